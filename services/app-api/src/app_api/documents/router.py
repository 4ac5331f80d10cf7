"""`/assistants/{assistantId}/documents`: upload URL, list, get, download URL, delete, complete, retry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from app_api.dependencies import CurrentUser, KnowledgeDep, SettingsDep, StateDep, StorageDep
from app_api.documents import service
from app_api.documents.schemas import (
    DocumentCreate,
    DocumentDownloadRead,
    DocumentPage,
    DocumentRead,
    DocumentUploadRead,
)
from chat_http.errors import error_responses

__all__ = ["IngestionDep", "router"]


async def _ingestion(state: StateDep) -> service.IngestionQueue:
    return state.ingestion


IngestionDep = Annotated[service.IngestionQueue, Depends(_ingestion)]

router = APIRouter(prefix="/assistants/{assistant_id}/documents", tags=["documents"])
_OWNER_ONLY = error_responses(403, 404)


@router.post(
    "/upload-url",
    response_model=DocumentUploadRead,
    status_code=status.HTTP_201_CREATED,
    responses=_OWNER_ONLY,
)
async def create_upload_url(
    assistant_id: str, body: DocumentCreate, user: CurrentUser, storage: StorageDep, settings: SettingsDep
) -> DocumentUploadRead:
    """Owner-only: add a document and get the URL to `PUT` its file to (ingestion follows the upload)."""
    upload = await service.create_upload_url(
        storage.assistants,
        storage.documents,
        storage.blobs,
        user,
        assistant_id,
        filename=body.filename,
        content_type=body.content_type,
        size_bytes=body.size_bytes,
        max_bytes=settings.document_max_bytes,
        expires_in=settings.document_url_expires_in,
    )
    return DocumentUploadRead(
        document_id=upload.document.document_id, upload_url=upload.upload_url, expires_in=upload.expires_in
    )


@router.get("", response_model=DocumentPage, responses=_OWNER_ONLY)
async def read_documents(
    assistant_id: str,
    user: CurrentUser,
    storage: StorageDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> DocumentPage:
    """Owner-only: the assistant's documents with their ingestion status, newest first."""
    page = await service.list_documents(
        storage.assistants,
        storage.documents,
        user,
        assistant_id,
        limit=limit,
        next_token=next_token,
    )
    return DocumentPage(documents=[DocumentRead.of(item) for item in page.items], next_token=page.next_cursor)


@router.get("/{document_id}", response_model=DocumentRead, responses=_OWNER_ONLY)
async def read_document(
    assistant_id: str, document_id: str, user: CurrentUser, storage: StorageDep
) -> DocumentRead:
    """Owner-only: one document, with `status`, `chunksDone`/`chunkCount` and any `errorMessage`."""
    document = await service.get_document(
        storage.assistants, storage.documents, user, assistant_id, document_id
    )
    return DocumentRead.of(document)


@router.get("/{document_id}/download", response_model=DocumentDownloadRead, responses=error_responses(404))
async def read_download_url(
    assistant_id: str, document_id: str, user: CurrentUser, storage: StorageDep, settings: SettingsDep
) -> DocumentDownloadRead:
    """A download URL for anyone who may use the assistant (citations open for shared users too)."""
    download = await service.download_document(
        storage.assistants,
        storage.documents,
        storage.blobs,
        user,
        assistant_id,
        document_id,
        expires_in=settings.document_url_expires_in,
    )
    return DocumentDownloadRead(
        download_url=download.download_url, filename=download.filename, expires_in=download.expires_in
    )


@router.post(
    "/{document_id}/complete",
    response_model=DocumentRead,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(403, 404, 409),
)
async def complete_document_upload(
    assistant_id: str, document_id: str, user: CurrentUser, storage: StorageDep, ingestion: IngestionDep
) -> DocumentRead:
    """Owner-only: confirm the file was uploaded and start ingesting it now (optional: the service notices uploads itself)."""
    document = await service.complete_upload(
        storage.assistants, storage.documents, storage.blobs, ingestion, user, assistant_id, document_id
    )
    return DocumentRead.of(document)


@router.post(
    "/{document_id}/retry",
    response_model=DocumentRead,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(403, 404, 409),
)
async def retry_document(
    assistant_id: str, document_id: str, user: CurrentUser, storage: StorageDep, ingestion: IngestionDep
) -> DocumentRead:
    """Owner-only: ingest a failed document again."""
    document = await service.retry_document(
        storage.assistants, storage.documents, ingestion, user, assistant_id, document_id
    )
    return DocumentRead.of(document)


@router.delete(
    "/{document_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response, responses=_OWNER_ONLY
)
async def delete_document(
    assistant_id: str, document_id: str, user: CurrentUser, storage: StorageDep, knowledge: KnowledgeDep
) -> Response:
    """Owner-only: delete the document, its file and its index entries."""
    await service.delete_document(
        storage.assistants, storage.documents, storage.blobs, knowledge, user, assistant_id, document_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
