"""Chat attachments and the per-user quota in SQLite; reservation and record change in one transaction."""

from __future__ import annotations

import builtins
from typing import Literal

from chat_core.errors import ConflictError, InvalidInputError, NotFoundError, QuotaExceededError
from chat_core.files import FileStatus, FileUpload, UserFileQuota
from chat_core.ids import SessionId, UploadId, UserId, validate_id
from chat_core.pagination import CursorCodec, Page, validate_limit
from chat_storage.local._db import Database, Transaction, to_db_time, utc_now

__all__ = ["LocalFileRepository"]

_SORT_COLUMNS: dict[str, tuple[str, type[int] | type[str]]] = {
    "date": ("created_at", str),
    "size": ("size_bytes", int),
    "type": ("mime_type", str),
}


def _ids(user_id: UserId, upload_id: UploadId) -> tuple[UserId, UploadId]:
    return UserId(validate_id(user_id, field="userId")), UploadId(validate_id(upload_id, field="uploadId"))


async def _release(tx: Transaction, user_id: UserId, size_bytes: int) -> None:
    await tx.execute(
        "UPDATE file_quotas SET used_bytes = used_bytes - ?, file_count = file_count - 1 WHERE user_id = ?",
        (size_bytes, user_id),
    )


class LocalFileRepository:
    """`FileRepository` on SQLite.

    A file's bytes count against the quota from `reserve` until `mark_failed` or `delete`; the quota
    row changes only by `+ ?` / `- ?` inside the same transaction as the file row.
    """

    def __init__(self, database: Database) -> None:
        self._db = database

    async def reserve(self, upload: FileUpload, *, quota_bytes: int) -> FileUpload:
        """Create a pending record and add its size to the quota in one transaction.

        Raises:
            QuotaExceededError: when the reservation would exceed `quota_bytes`.
            ConflictError: when the upload id exists already.
        """
        validate_id(upload.user_id, field="userId")
        validate_id(upload.upload_id, field="uploadId")
        validate_id(upload.session_id, field="sessionId")
        record = upload.model_copy(update={"status": FileStatus.PENDING})
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                "SELECT used_bytes FROM file_quotas WHERE user_id = ?", (upload.user_id,)
            )
            used = int(row["used_bytes"]) if row else 0
            if used + upload.size_bytes > quota_bytes:
                raise QuotaExceededError(
                    f"This upload needs {upload.size_bytes} bytes; {max(quota_bytes - used, 0)} of "
                    f"{quota_bytes} bytes are left.",
                    detail={
                        "currentUsage": used,
                        "maxAllowed": quota_bytes,
                        "requiredSpace": upload.size_bytes,
                    },
                )
            exists = await tx.fetch_one(
                "SELECT 1 FROM file_uploads WHERE user_id = ? AND upload_id = ?",
                (upload.user_id, upload.upload_id),
            )
            if exists is not None:
                raise ConflictError(f"Upload {upload.upload_id!r} already exists.")
            await tx.execute(
                "INSERT INTO file_uploads (user_id, upload_id, session_id, status, mime_type, size_bytes, "
                "created_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.user_id,
                    record.upload_id,
                    record.session_id,
                    record.status.value,
                    record.mime_type,
                    record.size_bytes,
                    to_db_time(record.created_at),
                    record.model_dump_json(by_alias=True),
                ),
            )
            await tx.execute(
                "INSERT INTO file_quotas (user_id, used_bytes, file_count) VALUES (?, ?, 1) "
                "ON CONFLICT (user_id) DO UPDATE SET used_bytes = used_bytes + excluded.used_bytes, "
                "file_count = file_count + 1",
                (record.user_id, record.size_bytes),
            )
        return record

    async def get(self, user_id: UserId, upload_id: UploadId) -> FileUpload | None:
        """The caller's file, or `None` (also for someone else's id)."""
        row = await self._db.fetch_one(
            "SELECT body FROM file_uploads WHERE user_id = ? AND upload_id = ?", _ids(user_id, upload_id)
        )
        return FileUpload.model_validate_json(row["body"]) if row else None

    async def mark_ready(
        self, user_id: UserId, upload_id: UploadId, *, etag: str | None = None
    ) -> FileUpload:
        """Pending -> ready, keeping `etag`. `NotFoundError` when missing, `ConflictError` when not pending."""
        return await self._finish(user_id, upload_id, FileStatus.READY, etag=etag)

    async def mark_failed(self, user_id: UserId, upload_id: UploadId) -> FileUpload:
        """Pending -> failed, releasing its reserved bytes. Same errors as `mark_ready`."""
        return await self._finish(user_id, upload_id, FileStatus.FAILED)

    async def delete(self, user_id: UserId, upload_id: UploadId) -> FileUpload | None:
        """Remove the record and release its bytes (unless already released) atomically."""
        user_id, upload_id = _ids(user_id, upload_id)
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                "DELETE FROM file_uploads WHERE user_id = ? AND upload_id = ? RETURNING body",
                (user_id, upload_id),
            )
            if row is None:
                return None
            removed = FileUpload.model_validate_json(row["body"])
            if removed.status is not FileStatus.FAILED:
                await _release(tx, user_id, removed.size_bytes)
        return removed

    async def list(
        self,
        user_id: UserId,
        *,
        session_id: SessionId | None = None,
        status: Literal["ready", "any"] = "ready",
        limit: int = 50,
        cursor: str | None = None,
        sort_by: Literal["date", "size", "type"] = "date",
        sort_order: Literal["asc", "desc"] = "desc",
    ) -> Page[FileUpload]:
        """The caller's files (optionally of one session), keyset-paginated on (sort column, upload id)."""
        validate_id(user_id, field="userId")
        validate_limit(limit)
        if sort_by not in _SORT_COLUMNS:
            raise InvalidInputError("sortBy must be date, size or type.", field="sortBy")
        if sort_order not in ("asc", "desc"):
            raise InvalidInputError("sortOrder must be asc or desc.", field="sortOrder")
        if status not in ("ready", "any"):
            raise InvalidInputError("status must be ready or any.", field="status")
        column, kind = _SORT_COLUMNS[sort_by]
        codec = CursorCodec(
            ("files", user_id, session_id, status, sort_by, sort_order), {"v": kind, "u": str}
        )
        conditions = ["user_id = ?"]
        params: builtins.list[object] = [user_id]
        if session_id is not None:
            conditions.append("session_id = ?")
            params.append(validate_id(session_id, field="sessionId"))
        if status == "ready":
            conditions.append("status = ?")
            params.append(FileStatus.READY.value)
        if cursor is not None:
            position = codec.decode(cursor)
            conditions.append(f"({column}, upload_id) {'<' if sort_order == 'desc' else '>'} (?, ?)")
            params += [position["v"], position["u"]]
        direction = sort_order.upper()
        rows = await self._db.fetch_all(
            f"SELECT {column} AS sort_value, upload_id, body FROM file_uploads "  # noqa: S608 (constants and placeholders only)  # nosec B608
            f"WHERE {' AND '.join(conditions)} ORDER BY {column} {direction}, upload_id {direction} LIMIT ?",
            [*params, limit + 1],
        )
        items = [FileUpload.model_validate_json(row["body"]) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = codec.encode({"v": last["sort_value"], "u": last["upload_id"]})
        return Page[FileUpload](items=items, next_cursor=next_cursor)

    async def quota(self, user_id: UserId) -> UserFileQuota:
        """Bytes and files currently counted against the caller."""
        validate_id(user_id, field="userId")
        row = await self._db.fetch_one(
            "SELECT used_bytes, file_count FROM file_quotas WHERE user_id = ?", (user_id,)
        )
        if row is None:
            return UserFileQuota()
        return UserFileQuota(used_bytes=row["used_bytes"], file_count=row["file_count"])

    async def _finish(
        self, user_id: UserId, upload_id: UploadId, status: FileStatus, *, etag: str | None = None
    ) -> FileUpload:
        user_id, upload_id = _ids(user_id, upload_id)
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                "SELECT body FROM file_uploads WHERE user_id = ? AND upload_id = ?", (user_id, upload_id)
            )
            if row is None:
                raise NotFoundError(f"File {upload_id!r} was not found.")
            current = FileUpload.model_validate_json(row["body"])
            if current.status is not FileStatus.PENDING:
                raise ConflictError(f"File {upload_id!r} is {current.status.value}, not pending.")
            finished = current.model_copy(
                update={"status": status, "updated_at": utc_now(), "content_etag": etag}
            )
            await tx.execute(
                "UPDATE file_uploads SET status = ?, body = ? WHERE user_id = ? AND upload_id = ? AND status = ?",
                (
                    status.value,
                    finished.model_dump_json(by_alias=True),
                    user_id,
                    upload_id,
                    FileStatus.PENDING.value,
                ),
            )
            if status is FileStatus.FAILED:
                await _release(tx, user_id, current.size_bytes)
        return finished
