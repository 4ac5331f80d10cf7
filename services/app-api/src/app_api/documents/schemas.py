"""HTTP shapes of the documents routes (the original's names; the storage key stays internal)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from app_api.schemas import ApiModel
from chat_core.documents import Document, DocumentStatus
from chat_core.fields import StrictInt
from chat_core.limits import FileName

__all__ = ["DocumentCreate", "DocumentDownloadRead", "DocumentPage", "DocumentRead", "DocumentUploadRead"]


class DocumentCreate(ApiModel):
    """`CreateDocumentRequest`."""

    filename: FileName
    content_type: str = Field(min_length=1, max_length=255)
    size_bytes: StrictInt = Field(gt=0)


class DocumentUploadRead(ApiModel):
    """`UploadUrlResponse`: `PUT` the file to `uploadUrl` with the declared `Content-Type`."""

    document_id: str
    upload_url: str
    expires_in: int


class DocumentRead(ApiModel):
    """`DocumentResponse`, with ingestion progress (`chunksDone` of `chunkCount`)."""

    document_id: str
    assistant_id: str
    filename: str
    content_type: str
    size_bytes: int
    status: DocumentStatus
    error_message: str | None = None
    """Why ingestion failed, fit to show to a person (only while the status is `failed`)."""
    chunk_count: int | None = None
    chunks_done: int | None = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, document: Document) -> DocumentRead:
        """The public view of a document."""
        failed = document.status is DocumentStatus.FAILED
        return cls(
            document_id=document.document_id,
            assistant_id=document.assistant_id,
            filename=document.filename,
            content_type=document.content_type,
            size_bytes=document.size_bytes,
            status=document.status,
            error_message=document.error_message if failed else None,
            chunk_count=document.chunk_count,
            chunks_done=document.chunks_done,
            created_at=document.created_at,
            updated_at=document.updated_at,
        )


class DocumentPage(ApiModel):
    """`DocumentsListResponse`."""

    documents: list[DocumentRead]
    next_token: str | None = None


class DocumentDownloadRead(ApiModel):
    """`DownloadUrlResponse`."""

    download_url: str
    filename: str
    expires_in: int
