"""Serving the sqlite backend's signed blob URLs: browsers `PUT` uploads and `GET` downloads here.

A token is a capability: whoever holds an unexpired one may do what it grants (one key, one
operation, a content type and a size limit for uploads). No bearer token is involved, exactly like
an S3 presigned URL. An upload link uploads once: after its attachment was completed (or failed, or
deleted), or its document left `uploading`, it is refused, so nothing replaces a file the service has
already checked. A stored document upload starts its ingestion right away.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from app_api.documents import service as documents_service
from app_api.files import service as files_service
from chat_core.documents import DocumentStatus
from chat_core.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from chat_core.files import FileStatus
from chat_storage import Storage

if TYPE_CHECKING:
    from chat_storage.local.blobs import BlobGrant

__all__ = ["BlobDownload", "read_blob", "store_blob"]

_DEFAULT_TYPE = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class BlobDownload:
    """The bytes of a blob and how to present them."""

    data: bytes
    content_type: str
    filename: str | None


def _grant(storage: Storage, secret: str, token: str, operation: Literal["put", "get"]) -> BlobGrant:
    if storage.backend != "sqlite":  # S3 serves the aws backend's URLs itself
        raise NotFoundError("No such route.")
    from chat_storage.local.blobs import verify_blob_grant  # the sqlite backend's, loaded with it

    return verify_blob_grant(token, secret, operation=operation)


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


async def _check_link_unused(storage: Storage, key: str) -> None:
    """Refuse an upload to a file the service has finished with (completed, failed or deleted).

    Raises:
        NotFoundError: the attachment or document was deleted.
        ConflictError: the attachment is no longer pending, or the document no longer `uploading`.
    """
    if (file_ids := files_service.parse_file_key(key)) is not None:
        upload = await storage.files.get(*file_ids)
        if upload is None:
            raise NotFoundError("This upload was deleted.")
        if upload.status is not FileStatus.PENDING:
            raise ConflictError(
                f"Upload {upload.upload_id!r} is {upload.status.value}: its link cannot be used again.",
                detail={"uploadId": upload.upload_id, "status": upload.status.value},
            )
    elif (document_ids := documents_service.parse_document_key(key)) is not None:
        document = await storage.documents.get(*document_ids)
        if document is None:
            raise NotFoundError("This document was deleted.")
        if document.status is not DocumentStatus.UPLOADING:
            raise ConflictError(
                f"Document {document.document_id!r} is {document.status.value}: "
                "its upload link cannot be used again.",
                detail={"documentId": document.document_id, "status": document.status.value},
            )


async def store_blob(
    storage: Storage,
    ingestion: documents_service.IngestionQueue,
    secret: str,
    token: str,
    *,
    content_type: str | None,
    content_length: int | None,
    body: AsyncIterator[bytes],
) -> None:
    """Store an upload sent to a signed URL after checking the token, the type and the size.

    A knowledge-base document starts ingesting as soon as its file is stored.

    Raises:
        NotFoundError: not the sqlite backend, or the link's attachment or document was deleted.
        InvalidInputError: malformed token, wrong `Content-Type`, or a body over the granted size.
        PermissionDeniedError: bad signature, expired, or a download token.
        ConflictError: the link was used already (its file completed, or its document ingesting).
    """
    grant = _grant(storage, secret, token, "put")
    await _check_link_unused(storage, grant.key)
    if grant.content_type is not None and _media_type(content_type) != _media_type(grant.content_type):
        raise PermissionDeniedError(
            f"This link accepts Content-Type {grant.content_type!r} only.",
            detail={"expected": grant.content_type},
        )
    limit = grant.max_bytes if grant.max_bytes is not None else 0
    too_large = InvalidInputError(
        f"The upload is larger than the {limit} bytes this link allows.",
        field="body",
        detail={"maxBytes": limit},
    )
    if grant.max_bytes is not None and content_length is not None and content_length > limit:
        raise too_large
    received = bytearray()
    async for chunk in body:
        received.extend(chunk)
        if grant.max_bytes is not None and len(received) > limit:
            raise too_large
    await _check_link_unused(storage, grant.key)  # again: the upload may have been completed meanwhile
    await storage.blobs.put(grant.key, bytes(received), content_type=grant.content_type or _DEFAULT_TYPE)
    document_ids = documents_service.parse_document_key(grant.key)
    if document_ids is not None:
        document = await storage.documents.get(*document_ids)
        if document is not None:
            ingestion.start(document)


async def read_blob(storage: Storage, secret: str, token: str) -> BlobDownload:
    """Check a download token and read the blob it names.

    Raises:
        NotFoundError: not the sqlite backend, or the blob is gone.
        InvalidInputError: malformed token.
        PermissionDeniedError: bad signature, expired, or an upload token.
    """
    grant = _grant(storage, secret, token, "get")
    info = await storage.blobs.head(grant.key)
    data = await storage.blobs.get(grant.key)
    if info is None or data is None:
        raise NotFoundError("The file is no longer there.")
    return BlobDownload(data, info.content_type or _DEFAULT_TYPE, grant.filename)
