"""HTTP shapes of the files routes (the original's names)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from app_api.schemas import ApiModel
from chat_core.fields import StrictInt
from chat_core.files import FileStatus, FileUpload
from chat_core.limits import FileName

__all__ = ["FilePage", "FileRead", "PresignRead", "PresignRequest", "QuotaRead"]


class PresignRequest(ApiModel):
    """`PresignRequest`."""

    session_id: str = Field(min_length=1, max_length=128)
    filename: FileName
    mime_type: str = Field(min_length=1, max_length=255)
    size_bytes: StrictInt = Field(gt=0)


class PresignRead(ApiModel):
    """`PresignResponse`: `PUT` the file to `presignedUrl` with the same `Content-Type`, then complete it."""

    upload_id: str
    presigned_url: str
    expires_at: datetime


class FileRead(ApiModel):
    """`FileResponse` (also the body of `CompleteUploadResponse`)."""

    upload_id: str
    filename: str
    mime_type: str
    size_bytes: int
    session_id: str
    status: FileStatus
    created_at: datetime
    s3_uri: str | None
    """`s3://bucket/key` of the file on the aws backend; `null` on sqlite, where files are not in S3."""

    @classmethod
    def of(cls, upload: FileUpload, *, s3_bucket: str | None) -> FileRead:
        """The owner's view of an upload (`s3_bucket`: the aws backend's bucket, else `None`)."""
        return cls(
            upload_id=upload.upload_id,
            filename=upload.filename,
            mime_type=upload.mime_type,
            size_bytes=upload.size_bytes,
            session_id=upload.session_id,
            status=upload.status,
            created_at=upload.created_at,
            s3_uri=f"s3://{s3_bucket}/{upload.storage_key}" if s3_bucket else None,
        )


class FilePage(ApiModel):
    """`FileListResponse`."""

    files: list[FileRead]
    next_cursor: str | None = None
    total_count: None = None
    """Always `null`: the listing is paged by cursor and not counted (`/files/quota` has the file count)."""


class QuotaRead(ApiModel):
    """`QuotaResponse`."""

    used_bytes: int
    max_bytes: int
    file_count: int
