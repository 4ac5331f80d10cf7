"""Chat attachments: presigned uploads with the quota reserved up front, completion, listing, deletion."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from chat_core.errors import InvalidInputError, NotFoundError
from chat_core.files import FileUpload, UploadPolicy, UserFileQuota, check_upload, sanitize_filename
from chat_core.identity import User
from chat_core.ids import SessionId, UploadId, UserId, new_upload_id, validate_id
from chat_core.pagination import Page
from chat_core.ports import BlobStore, FileRepository

__all__ = [
    "FilePresign",
    "complete_upload",
    "delete_file",
    "file_key",
    "get_quota",
    "list_files",
    "parse_file_key",
    "presign_upload",
]


@dataclass(frozen=True, slots=True)
class FilePresign:
    """A reserved upload and where to `PUT` it."""

    upload: FileUpload
    url: str
    expires_at: datetime


def file_key(upload: FileUpload) -> str:
    """`user-files/{userId}/{sessionId}/{uploadId}/{sanitised file name}`."""
    return f"user-files/{upload.user_id}/{upload.session_id}/{upload.upload_id}/{sanitize_filename(upload.filename)}"


def parse_file_key(key: str) -> tuple[UserId, UploadId] | None:
    """The (user, upload) a blob key belongs to, or `None` for any other blob."""
    parts = key.split("/")
    if len(parts) == 5 and parts[0] == "user-files":
        return UserId(parts[1]), UploadId(parts[3])
    return None


def _checked(upload_id: str) -> UploadId:
    return UploadId(validate_id(upload_id, field="uploadId"))


async def presign_upload(
    files: FileRepository,
    blobs: BlobStore,
    policy: UploadPolicy,
    user: User,
    *,
    session_id: str,
    filename: str,
    mime_type: str,
    size_bytes: int,
    expires_in: int,
) -> FilePresign:
    """Check the policy, reserve the bytes against the quota (atomically), and sign the upload URL.

    Raises:
        InvalidInputError: unsupported type, too large, bad name or session id.
        QuotaExceededError: the reservation would exceed the user's quota (detail: currentUsage,
            maxAllowed, requiredSpace).
    """
    check_upload(policy, filename=filename, mime_type=mime_type, size_bytes=size_bytes)
    media_type = mime_type.split(";")[0].strip().lower()
    upload_id = new_upload_id()
    draft = FileUpload(
        upload_id=upload_id,
        user_id=user.user_id,
        session_id=SessionId(validate_id(session_id, field="sessionId")),
        filename=filename,
        mime_type=media_type,
        size_bytes=size_bytes,
        storage_key="pending",
    )
    upload = await files.reserve(
        draft.model_copy(update={"storage_key": file_key(draft)}), quota_bytes=policy.user_quota_bytes
    )
    try:
        url = await blobs.presign_upload(
            upload.storage_key, content_type=media_type, max_bytes=size_bytes, expires_in=expires_in
        )
    except BaseException:
        await files.delete(user.user_id, upload.upload_id)  # give the reserved bytes back
        raise
    return FilePresign(upload, url, datetime.now(UTC) + timedelta(seconds=expires_in))


async def complete_upload(files: FileRepository, blobs: BlobStore, user: User, upload_id: str) -> FileUpload:
    """Confirm an upload: the object must exist and be no larger than declared; then the file is ready.

    The object's ETag is kept, so that one written after this (an S3 presigned link cannot be
    revoked) is refused when the file is used.

    Raises:
        NotFoundError: unknown upload, or its object is absent (the upload is then marked failed).
        ConflictError: the upload is not pending.
        InvalidInputError: the object is larger than declared (marked failed and removed).
    """
    uid = _checked(upload_id)
    upload = await files.get(user.user_id, uid)
    if upload is None:
        raise NotFoundError(f"Upload {upload_id!r} was not found.")
    info = await blobs.head(upload.storage_key)
    if info is None:
        await files.mark_failed(user.user_id, uid)
        raise NotFoundError(f"The file of upload {upload_id!r} was not uploaded.")
    if info.size_bytes > upload.size_bytes:
        await files.mark_failed(user.user_id, uid)
        await blobs.delete(upload.storage_key)
        raise InvalidInputError(
            f"The uploaded file is {info.size_bytes} bytes, more than the {upload.size_bytes} declared.",
            field="sizeBytes",
        )
    return await files.mark_ready(user.user_id, uid, etag=info.etag)


async def list_files(
    files: FileRepository,
    user: User,
    *,
    session_id: str | None,
    limit: int,
    cursor: str | None,
    sort_by: Literal["date", "size", "type"],
    sort_order: Literal["asc", "desc"],
) -> Page[FileUpload]:
    """The caller's ready files, optionally of one session."""
    session = SessionId(validate_id(session_id, field="sessionId")) if session_id is not None else None
    return await files.list(
        user.user_id, session_id=session, limit=limit, cursor=cursor, sort_by=sort_by, sort_order=sort_order
    )


async def delete_file(files: FileRepository, blobs: BlobStore, user: User, upload_id: str) -> None:
    """Delete the object, then the record (which gives its bytes back to the quota)."""
    uid = _checked(upload_id)
    upload = await files.get(user.user_id, uid)
    if upload is None:
        raise NotFoundError(f"Upload {upload_id!r} was not found.")
    await blobs.delete(upload.storage_key)
    await files.delete(user.user_id, uid)


async def get_quota(files: FileRepository, user: User) -> UserFileQuota:
    """Bytes and files counted against the caller (pending uploads included)."""
    return await files.quota(user.user_id)
