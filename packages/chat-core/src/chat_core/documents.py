"""Documents of an assistant's knowledge base and their ingestion status."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from chat_core._base import CamelModel
from chat_core.clock import utc_now
from chat_core.ids import AssistantId, DocumentId

__all__ = ["FINISHED_STATUSES", "UNFINISHED_STATUSES", "Document", "DocumentProgress", "DocumentStatus"]


class DocumentStatus(StrEnum):
    """uploading -> chunking -> embedding -> complete, or failed (with a readable reason)."""

    UPLOADING = "uploading"
    CHUNKING = "chunking"
    EMBEDDING = "embedding"
    COMPLETE = "complete"
    FAILED = "failed"


UNFINISHED_STATUSES = frozenset({DocumentStatus.UPLOADING, DocumentStatus.CHUNKING, DocumentStatus.EMBEDDING})
"""Statuses a document leaves on its own; a document stuck in one needs the background reconciler."""
FINISHED_STATUSES = frozenset({DocumentStatus.COMPLETE, DocumentStatus.FAILED})
"""Statuses that end an ingestion: writing one releases the ingestion lease."""


class Document(CamelModel):
    """A file in an assistant's knowledge base."""

    document_id: DocumentId
    assistant_id: AssistantId
    filename: str
    content_type: str
    size_bytes: int = Field(gt=0)
    storage_key: str
    status: DocumentStatus = DocumentStatus.UPLOADING
    error_message: str | None = None
    chunk_count: int | None = None
    chunks_done: int | None = None
    content_hash: str | None = None
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    lease_holder: str | None = None
    """The process ingesting the document, while its lease (`lease_expires_at`) lasts."""
    lease_expires_at: datetime | None = None
    ingest_attempts: int = Field(default=0, ge=0)
    """Ingestions started since the last one that finished (complete or failed); a resumed one counts."""

    def lease_live(self, now: datetime) -> bool:
        """Whether someone holds the ingestion lease at `now` (an expired lease is free to take)."""
        return (
            self.lease_holder is not None
            and self.lease_expires_at is not None
            and self.lease_expires_at > now
        )


class DocumentProgress(CamelModel):
    """A status change reported by ingestion; `None` fields are left as they are.

    The error message is the exception: it belongs to a failed status and is cleared by any other.
    """

    status: DocumentStatus
    chunk_count: int | None = None
    chunks_done: int | None = None
    error_message: str | None = None
    content_hash: str | None = None
