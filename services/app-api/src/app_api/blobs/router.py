"""`PUT|GET /blobs/{token}`: the sqlite backend's presigned URLs (public; the token is the permission)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response, status

from app_api.blobs import service
from app_api.dependencies import StateDep, StorageDep
from app_api.documents.router import IngestionDep
from chat_http.errors import error_responses

__all__ = ["router"]


async def _blob_secret(state: StateDep) -> str:
    return state.blob_secret


BlobSecretDep = Annotated[str, Depends(_blob_secret)]

router = APIRouter(prefix="/blobs", tags=["blobs"])
_BINARY = {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}, "required": True}


def _content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback and the exact UTF-8 name (RFC 6266 / RFC 5987)."""
    fallback = "".join(
        char if (char.isascii() and char.isalnum()) or char in "._- ()" else "_" for char in filename
    )
    return f"attachment; filename=\"{fallback or 'download'}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.put(
    "/{token}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(403, 404, 409),
    openapi_extra={"requestBody": _BINARY, "security": []},
)
async def upload_blob(
    token: str, request: Request, storage: StorageDep, ingestion: IngestionDep, secret: BlobSecretDep
) -> Response:
    """Store an upload sent to a signed URL (sqlite backend); the `Content-Type` must be the signed one.

    A link uploads once: 409 after its attachment was completed or its document started ingesting.
    """
    length = request.headers.get("content-length")
    await service.store_blob(
        storage,
        ingestion,
        secret,
        token,
        content_type=request.headers.get("content-type"),
        content_length=int(length) if length and length.isdigit() else None,
        body=request.stream(),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{token}",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
        **error_responses(403, 404),
    },
    openapi_extra={"security": []},
)
async def download_blob(token: str, storage: StorageDep, secret: BlobSecretDep) -> Response:
    """Serve a download from a signed URL (sqlite backend), as an attachment with its file name."""
    blob = await service.read_blob(storage, secret, token)
    headers = {"Content-Disposition": _content_disposition(blob.filename)} if blob.filename else {}
    return Response(content=blob.data, media_type=blob.content_type, headers=headers)
