"""File uploads attached to chat turns: records, quota, and the upload rules."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import PurePosixPath

from pydantic import Field

from chat_core._base import CamelModel
from chat_core.clock import utc_now
from chat_core.errors import InvalidInputError
from chat_core.ids import SessionId, UploadId, UserId

__all__ = [
    "DEFAULT_ALLOWED_TYPES",
    "FileStatus",
    "FileUpload",
    "UploadPolicy",
    "UserFileQuota",
    "check_upload",
    "sanitize_document_name",
    "sanitize_filename",
]

DEFAULT_ALLOWED_TYPES: frozenset[str] = frozenset(
    {
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "text/plain",
        "text/html",
        "text/csv",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "text/markdown",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
    }
)
_FILE_RETENTION = timedelta(days=365)
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9._ ()\[\]-]+")
_UNSAFE_DOCUMENT_CHARS = re.compile(r"[^A-Za-z0-9 \-()\[\]]")


class FileStatus(StrEnum):
    """`pending` until the client's upload is confirmed; only `ready` files can be attached."""

    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class FileUpload(CamelModel):
    """A user's uploaded file. Its size counts against the quota from presign until deletion."""

    upload_id: UploadId
    user_id: UserId
    session_id: SessionId
    filename: str
    mime_type: str
    size_bytes: int = Field(gt=0)
    storage_key: str
    status: FileStatus = FileStatus.PENDING
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    expires_at: datetime = Field(default_factory=lambda: utc_now() + _FILE_RETENTION)
    content_etag: str | None = None
    """The ETag of the object checked at completion; an object written after it is refused at use."""


class UserFileQuota(CamelModel):
    """Bytes and files a user holds (pending uploads included: they are reserved)."""

    used_bytes: int = 0
    file_count: int = 0


class UploadPolicy(CamelModel):
    """Limits for chat attachments; the defaults are the original system's."""

    max_file_bytes: int = Field(default=4 * 1024 * 1024, ge=1)
    user_quota_bytes: int = Field(default=1024 * 1024 * 1024, ge=1)
    max_files_per_message: int = Field(default=5, ge=1)
    allowed_types: frozenset[str] = DEFAULT_ALLOWED_TYPES


def check_upload(policy: UploadPolicy, *, filename: str, mime_type: str, size_bytes: int) -> None:
    """Refuse an upload that breaks the policy (type, size, name) before anything is reserved.

    Raises:
        InvalidInputError: naming the offending field.
    """
    if not filename.strip() or len(filename) > 255:
        raise InvalidInputError("filename must be 1 to 255 characters.", field="filename")
    if mime_type.split(";")[0].strip().lower() not in policy.allowed_types:
        raise InvalidInputError(f"Files of type {mime_type!r} are not supported.", field="mimeType")
    if size_bytes <= 0:
        raise InvalidInputError("sizeBytes must be positive.", field="sizeBytes")
    if size_bytes > policy.max_file_bytes:
        raise InvalidInputError(
            f"The file is {size_bytes} bytes; the limit is {policy.max_file_bytes} bytes.",
            field="sizeBytes",
            detail={"maxBytes": policy.max_file_bytes},
        )


def sanitize_filename(filename: str) -> str:
    """A file name safe to put in a storage key: no directories, no control or odd characters."""
    name = unicodedata.normalize("NFKC", PurePosixPath(filename.replace("\\", "/")).name)
    name = _UNSAFE_KEY_CHARS.sub("_", name).strip(" .")
    return name[:200] or "file"


def sanitize_document_name(filename: str) -> str:
    """A document name the model providers accept: `[A-Za-z0-9 -()[]]` only, as Bedrock requires."""
    name = _UNSAFE_DOCUMENT_CHARS.sub("_", PurePosixPath(filename.replace("\\", "/")).name)
    return re.sub(r"\s{2,}", " ", name).strip()[:200] or "document"
