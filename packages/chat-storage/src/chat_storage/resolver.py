"""The file resolver: upload ids a user attached to a turn -> name, type and bytes of each file.

Every id is accounted for: too many ids, an invalid, unknown, foreign or not-ready id, or a missing
object is an error naming the id (the original system silently dropped files past the fifth and any
file it could not read).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from chat_core.errors import ConflictError, InvalidInputError, NotFoundError
from chat_core.files import FileStatus, FileUpload
from chat_core.ids import UploadId, UserId, validate_id
from chat_core.ports import BlobStore, FileRepository

__all__ = ["FileSources", "ResolvedFile", "resolve_files"]

_FIELD = "fileUploadIds"


class FileSources(Protocol):
    """Where files come from: a `Storage`, or anything else with these two ports."""

    @property
    def files(self) -> FileRepository:
        """File records and their status."""
        ...

    @property
    def blobs(self) -> BlobStore:
        """The files' bytes."""
        ...


@dataclass(frozen=True, slots=True)
class ResolvedFile:
    """One attached file, ready to hand to a model."""

    upload_id: UploadId
    filename: str
    mime_type: str
    data: bytes


async def _record(sources: FileSources, user_id: UserId, upload_id: UploadId) -> FileUpload:
    record = await sources.files.get(user_id, upload_id)
    if record is None:
        # Someone else's id looks exactly like an unknown one: existence is not revealed.
        raise NotFoundError(
            f"File {upload_id!r} was not found.", detail={"uploadId": upload_id}, field=_FIELD
        )
    if record.status is not FileStatus.READY:
        raise ConflictError(
            f"File {upload_id!r} is {record.status.value}, not ready.",
            detail={"uploadId": upload_id, "status": record.status.value},
            field=_FIELD,
        )
    return record


async def _content(sources: FileSources, record: FileUpload) -> ResolvedFile:
    """The bytes checked at completion: an object written after it (larger, or another ETag) is refused.

    An S3 upload link cannot be revoked, so until it expires its holder can still write the object;
    the size is checked before the bytes are read, so such an object is never read into memory.
    """
    missing = NotFoundError(
        f"The content of file {record.upload_id!r} is missing.",
        detail={"uploadId": record.upload_id},
        field=_FIELD,
    )
    info = await sources.blobs.head(record.storage_key)
    if info is None:
        raise missing
    if info.size_bytes > record.size_bytes or (
        record.content_etag is not None and info.etag != record.content_etag
    ):
        raise ConflictError(
            f"File {record.upload_id!r} changed after its upload was completed; upload it again.",
            detail={"uploadId": record.upload_id},
            field=_FIELD,
        )
    data = await sources.blobs.get(record.storage_key)
    if data is None:
        raise missing
    return ResolvedFile(
        upload_id=record.upload_id, filename=record.filename, mime_type=record.mime_type, data=data
    )


async def resolve_files(
    sources: FileSources, user_id: UserId, upload_ids: Sequence[str], *, max_files: int
) -> list[ResolvedFile]:
    """The files `upload_ids` name, in the order given, if the user owns each and each is ready.

    Records are all checked before any bytes are read, so a bad id fails fast.

    Raises:
        InvalidInputError: more than `max_files` ids, a repeated id, or an id that is not valid.
        NotFoundError: an id that is unknown or someone else's, or a file whose bytes are missing.
        ConflictError: a file that is not `ready` (still pending, or failed).
    """
    if isinstance(upload_ids, str):
        raise InvalidInputError("fileUploadIds must be a list of ids.", field=_FIELD)
    if len(upload_ids) > max_files:
        raise InvalidInputError(
            f"At most {max_files} files can be attached to one message; got {len(upload_ids)}.",
            detail={"maxFiles": max_files, "given": len(upload_ids)},
            field=_FIELD,
        )
    ids: list[UploadId] = []
    for upload_id in upload_ids:
        validate_id(upload_id, field=_FIELD)
        if upload_id in ids:
            raise InvalidInputError(
                f"File {upload_id!r} is listed twice.", detail={"uploadId": upload_id}, field=_FIELD
            )
        ids.append(UploadId(upload_id))
    validate_id(user_id, field="userId")
    records = [await _record(sources, user_id, upload_id) for upload_id in ids]
    return list(await asyncio.gather(*(_content(sources, record) for record in records)))
