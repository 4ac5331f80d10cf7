"""Knowledge-base documents in SQLite, keyed by (assistant, document)."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import datetime

from chat_core.documents import (
    FINISHED_STATUSES,
    UNFINISHED_STATUSES,
    Document,
    DocumentProgress,
    DocumentStatus,
)
from chat_core.errors import ConflictError
from chat_core.ids import AssistantId, DocumentId, validate_id
from chat_core.pagination import CursorCodec, Page, validate_limit
from chat_storage.local._db import Database, to_db_time, utc_now

__all__ = ["LocalDocumentRepository"]


def _ids(assistant_id: AssistantId, document_id: DocumentId) -> tuple[AssistantId, DocumentId]:
    return (
        AssistantId(validate_id(assistant_id, field="assistantId")),
        DocumentId(validate_id(document_id, field="documentId")),
    )


def _unfinished_at(document: Document) -> str | None:
    return to_db_time(document.updated_at) if document.status in UNFINISHED_STATUSES else None


class LocalDocumentRepository:
    """`DocumentRepository` on SQLite."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(self, document: Document) -> Document:
        """Add a document; `ConflictError` if the id exists."""
        assistant_id, document_id = _ids(document.assistant_id, document.document_id)
        async with self._db.transaction() as tx:
            exists = await tx.fetch_one(
                "SELECT 1 FROM documents WHERE assistant_id = ? AND document_id = ?",
                (assistant_id, document_id),
            )
            if exists is not None:
                raise ConflictError(f"Document {document_id!r} already exists.")
            await tx.execute(
                "INSERT INTO documents (assistant_id, document_id, created_at, unfinished_at, body) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    assistant_id,
                    document_id,
                    to_db_time(document.created_at),
                    _unfinished_at(document),
                    document.model_dump_json(by_alias=True),
                ),
            )
        return document

    async def get(self, assistant_id: AssistantId, document_id: DocumentId) -> Document | None:
        """One document of one assistant."""
        row = await self._db.fetch_one(
            "SELECT body FROM documents WHERE assistant_id = ? AND document_id = ?",
            _ids(assistant_id, document_id),
        )
        return Document.model_validate_json(row["body"]) if row else None

    async def list(
        self, assistant_id: AssistantId, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Document]:
        """The assistant's documents, newest first."""
        validate_id(assistant_id, field="assistantId")
        validate_limit(limit)
        codec = CursorCodec(("documents", assistant_id), {"t": str, "d": str})
        after = ""
        params: builtins.list[object] = [assistant_id]
        if cursor is not None:
            position = codec.decode(cursor)
            after = "AND (created_at, document_id) < (?, ?)"
            params += [position["t"], position["d"]]
        rows = await self._db.fetch_all(
            f"SELECT created_at, document_id, body FROM documents WHERE assistant_id = ? {after} "  # noqa: S608 (constants and placeholders only)  # nosec B608
            "ORDER BY created_at DESC, document_id DESC LIMIT ?",
            [*params, limit + 1],
        )
        items = [Document.model_validate_json(row["body"]) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = codec.encode({"t": last["created_at"], "d": last["document_id"]})
        return Page[Document](items=items, next_cursor=next_cursor)

    async def update_progress(
        self,
        assistant_id: AssistantId,
        document_id: DocumentId,
        progress: DocumentProgress,
        *,
        holder: str | None = None,
    ) -> Document | None:
        """Apply a status change; `None` when the document is gone or `holder` lost its lease."""
        changes = progress.model_dump(exclude_none=True) | {"updated_at": utc_now()}
        if progress.status is not DocumentStatus.FAILED:
            changes["error_message"] = None  # a reason outlives only the failure it explains
        if progress.status in FINISHED_STATUSES:
            changes |= {"lease_holder": None, "lease_expires_at": None, "ingest_attempts": 0}

        def change(document: Document) -> Document | None:
            if holder is not None and document.lease_holder != holder:
                return None
            return Document.model_validate(document.model_dump() | changes)

        return await self._change(assistant_id, document_id, change)

    async def acquire_lease(
        self, assistant_id: AssistantId, document_id: DocumentId, *, holder: str, expires_at: datetime
    ) -> Document | None:
        """Take the ingestion lease in one IMMEDIATE transaction (so two processes cannot both take it)."""

        def take(document: Document) -> Document | None:
            if document.status in FINISHED_STATUSES:
                return None
            if document.lease_live(utc_now()) and document.lease_holder != holder:
                return None
            return document.model_copy(
                update={
                    "lease_holder": holder,
                    "lease_expires_at": expires_at,
                    "ingest_attempts": document.ingest_attempts + 1,
                }
            )

        return await self._change(assistant_id, document_id, take)

    async def renew_lease(
        self, assistant_id: AssistantId, document_id: DocumentId, *, holder: str, expires_at: datetime
    ) -> bool:
        """Extend `holder`'s lease; `False` when it is no longer theirs (or the document is gone)."""

        def renew(document: Document) -> Document | None:
            if document.lease_holder != holder:
                return None
            return document.model_copy(update={"lease_expires_at": expires_at})

        return await self._change(assistant_id, document_id, renew) is not None

    async def _change(
        self,
        assistant_id: AssistantId,
        document_id: DocumentId,
        change: Callable[[Document], Document | None],
    ) -> Document | None:
        """Read, change and write one document in one transaction.

        `None` (nothing written) when the document is missing or `change` declines.
        """
        assistant_id, document_id = _ids(assistant_id, document_id)
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                "SELECT body FROM documents WHERE assistant_id = ? AND document_id = ?",
                (assistant_id, document_id),
            )
            if row is None:
                return None
            updated = change(Document.model_validate_json(row["body"]))
            if updated is None:
                return None
            await tx.execute(
                "UPDATE documents SET body = ?, unfinished_at = ? WHERE assistant_id = ? AND document_id = ?",
                (updated.model_dump_json(by_alias=True), _unfinished_at(updated), assistant_id, document_id),
            )
        return updated

    async def list_unfinished(self, *, limit: int = 100) -> builtins.list[Document]:
        """Documents of every assistant still uploading or being ingested, least recently updated first."""
        validate_limit(limit)
        rows = await self._db.fetch_all(
            "SELECT body FROM documents WHERE unfinished_at IS NOT NULL "
            "ORDER BY unfinished_at, assistant_id, document_id LIMIT ?",
            (limit,),
        )
        return [Document.model_validate_json(row["body"]) for row in rows]

    async def delete(self, assistant_id: AssistantId, document_id: DocumentId) -> bool:
        """Remove one document record; `False` when it was missing."""
        assistant_id, document_id = _ids(assistant_id, document_id)
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "DELETE FROM documents WHERE assistant_id = ? AND document_id = ?",
                (assistant_id, document_id),
            )
        return changed == 1

    async def delete_all(self, assistant_id: AssistantId) -> builtins.list[Document]:
        """Remove every document record of an assistant; the removed records (for blob cleanup)."""
        validate_id(assistant_id, field="assistantId")
        async with self._db.transaction() as tx:
            rows = await tx.fetch_all(
                "DELETE FROM documents WHERE assistant_id = ? RETURNING body", (assistant_id,)
            )
        return [Document.model_validate_json(row["body"]) for row in rows]
