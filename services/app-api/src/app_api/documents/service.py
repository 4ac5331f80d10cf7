"""Knowledge-base documents: upload URLs, listing, downloads, deletion, and the ingestion of one document.

How ingestion starts (the client only uploads to the URL it was given):

- `sqlite`: the upload goes to app-api's own blob route, which starts ingestion when the file is stored.
- `aws`: the upload goes straight to S3, which app-api does not hear about. The client may confirm with
  `POST .../documents/{documentId}/complete`; otherwise reading the document (get or list) notices that
  the file has arrived and starts ingestion then.

A failed ingestion keeps a readable `errorMessage` and can be started again with
`POST .../documents/{documentId}/retry`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from app_api.assistants import service as assistants_service
from app_api.knowledge import KnowledgeBases
from chat_core.documents import Document, DocumentProgress, DocumentStatus
from chat_core.errors import ChatError, ConflictError, InternalError, InvalidInputError, NotFoundError
from chat_core.files import sanitize_filename
from chat_core.identity import User
from chat_core.ids import AssistantId, DocumentId, new_document_id, validate_id
from chat_core.pagination import Page
from chat_core.ports import AssistantRepository, BlobStore, DocumentRepository
from chat_rag.parsing import detect_kind

if TYPE_CHECKING:
    from app_api.documents.ingestion import IngestionRunner

__all__ = [
    "STALE_AFTER",
    "DocumentDownload",
    "DocumentUpload",
    "complete_upload",
    "create_upload_url",
    "delete_document",
    "document_key",
    "download_document",
    "get_document",
    "ingest_document",
    "list_documents",
    "parse_document_key",
    "retry_document",
]

logger = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=10)
"""An in-progress ingestion untouched this long (its process stopped) may be retried."""
_GENERIC_FAILURE = "Ingestion failed unexpectedly. Retry it, or upload the file again."
_IN_PROGRESS = frozenset({DocumentStatus.CHUNKING, DocumentStatus.EMBEDDING})


@dataclass(frozen=True, slots=True)
class DocumentUpload:
    """A new document and the URL its file goes to."""

    document: Document
    upload_url: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class DocumentDownload:
    """A signed download URL for a document's file."""

    download_url: str
    filename: str
    expires_in: int


def document_key(assistant_id: str, document_id: str, filename: str) -> str:
    """`assistants/{assistantId}/documents/{documentId}/{sanitised file name}`."""
    return f"{assistants_service.assistant_prefix(assistant_id)}documents/{document_id}/{sanitize_filename(filename)}"


def parse_document_key(key: str) -> tuple[AssistantId, DocumentId] | None:
    """The (assistant, document) a blob key belongs to, or `None` for any other blob."""
    parts = key.split("/")
    if len(parts) == 5 and parts[0] == "assistants" and parts[2] == "documents":
        return AssistantId(parts[1]), DocumentId(parts[3])
    return None


async def _owned_document(
    assistants: AssistantRepository,
    documents: DocumentRepository,
    user: User,
    assistant_id: str,
    document_id: str,
) -> Document:
    assistant = await assistants_service.load_for_owner(assistants, user, assistant_id)
    validate_id(document_id, field="documentId")
    document = await documents.get(assistant.assistant_id, DocumentId(document_id))
    if document is None:
        raise NotFoundError(f"Document {document_id!r} was not found.")
    return document


async def create_upload_url(
    assistants: AssistantRepository,
    documents: DocumentRepository,
    blobs: BlobStore,
    user: User,
    assistant_id: str,
    *,
    filename: str,
    content_type: str,
    size_bytes: int,
    max_bytes: int,
    expires_in: int,
) -> DocumentUpload:
    """Owner-only: record a new document (`uploading`) and sign the URL its file is `PUT` to.

    Raises:
        InvalidInputError: a type the knowledge base cannot read, or a file over `max_bytes`.
    """
    assistant = await assistants_service.load_for_owner(assistants, user, assistant_id)
    detect_kind(filename, content_type)
    if size_bytes > max_bytes:
        raise InvalidInputError(
            f"The file is {size_bytes} bytes; the limit is {max_bytes} bytes.",
            field="sizeBytes",
            detail={"maxBytes": max_bytes},
        )
    document_id = new_document_id()
    document = Document(
        document_id=document_id,
        assistant_id=assistant.assistant_id,
        filename=filename,
        content_type=content_type,
        size_bytes=size_bytes,
        storage_key=document_key(assistant.assistant_id, document_id, filename),
    )
    await documents.create(document)
    url = await blobs.presign_upload(
        document.storage_key, content_type=content_type, max_bytes=size_bytes, expires_in=expires_in
    )
    return DocumentUpload(document, url, expires_in)


async def _start_if_uploaded(blobs: BlobStore, ingestion: IngestionRunner, document: Document) -> None:
    """The lazy check: an `uploading` document whose file has arrived starts ingesting."""
    if document.status is not DocumentStatus.UPLOADING or ingestion.is_running(
        document.assistant_id, document.document_id
    ):
        return
    if await blobs.head(document.storage_key) is not None:
        ingestion.start(document)


async def list_documents(
    assistants: AssistantRepository,
    documents: DocumentRepository,
    blobs: BlobStore,
    ingestion: IngestionRunner,
    user: User,
    assistant_id: str,
    *,
    limit: int,
    next_token: str | None,
) -> Page[Document]:
    """Owner-only: the assistant's documents, newest first (arrived uploads start ingesting)."""
    assistant = await assistants_service.load_for_owner(assistants, user, assistant_id)
    page = await documents.list(assistant.assistant_id, limit=limit, cursor=next_token)
    for document in page.items:
        await _start_if_uploaded(blobs, ingestion, document)
    return page


async def get_document(
    assistants: AssistantRepository,
    documents: DocumentRepository,
    blobs: BlobStore,
    ingestion: IngestionRunner,
    user: User,
    assistant_id: str,
    document_id: str,
) -> Document:
    """Owner-only: one document with its ingestion status and progress."""
    document = await _owned_document(assistants, documents, user, assistant_id, document_id)
    await _start_if_uploaded(blobs, ingestion, document)
    return document


async def download_document(
    assistants: AssistantRepository,
    documents: DocumentRepository,
    blobs: BlobStore,
    user: User,
    assistant_id: str,
    document_id: str,
    *,
    expires_in: int,
) -> DocumentDownload:
    """A download URL for anyone who may use the assistant, so citations open for shared users too."""
    view = await assistants_service.load_for_use(assistants, user, assistant_id)
    validate_id(document_id, field="documentId")
    document = await documents.get(view.assistant.assistant_id, DocumentId(document_id))
    if document is None:
        raise NotFoundError(f"Document {document_id!r} was not found.")
    url = await blobs.presign_download(
        document.storage_key, filename=document.filename, expires_in=expires_in
    )
    return DocumentDownload(url, document.filename, expires_in)


async def delete_document(
    assistants: AssistantRepository,
    documents: DocumentRepository,
    blobs: BlobStore,
    knowledge: KnowledgeBases,
    user: User,
    assistant_id: str,
    document_id: str,
) -> None:
    """Owner-only: remove the document's chunks, its file, then its record (so a failure can be retried)."""
    document = await _owned_document(assistants, documents, user, assistant_id, document_id)
    knowledge_base = await knowledge.get()
    await knowledge_base.delete_document(document.assistant_id, document.document_id)
    await blobs.delete(document.storage_key)
    await documents.delete(document.assistant_id, document.document_id)


async def _fail(documents: DocumentRepository, document: Document, message: str) -> Document | None:
    return await documents.update_progress(
        document.assistant_id,
        document.document_id,
        DocumentProgress(status=DocumentStatus.FAILED, error_message=message),
    )


async def complete_upload(
    assistants: AssistantRepository,
    documents: DocumentRepository,
    blobs: BlobStore,
    ingestion: IngestionRunner,
    user: User,
    assistant_id: str,
    document_id: str,
) -> Document:
    """Owner-only: confirm the file was uploaded and start ingesting it.

    Raises:
        NotFoundError: the file has not arrived yet (nothing changes; confirm again after uploading).
        ConflictError: the document is past the upload step.
    """
    document = await _owned_document(assistants, documents, user, assistant_id, document_id)
    if document.status is not DocumentStatus.UPLOADING:
        raise ConflictError(f"Document {document_id!r} is {document.status.value}, not uploading.")
    info = await blobs.head(document.storage_key)
    if info is None:
        raise NotFoundError(f"The file of document {document_id!r} has not been uploaded yet.")
    if info.size_bytes > document.size_bytes:
        failed = await _fail(
            documents,
            document,
            f"The uploaded file is {info.size_bytes} bytes, more than the {document.size_bytes} declared.",
        )
        return failed or document
    ingestion.start(document)
    return document


async def retry_document(
    assistants: AssistantRepository,
    documents: DocumentRepository,
    ingestion: IngestionRunner,
    user: User,
    assistant_id: str,
    document_id: str,
) -> Document:
    """Owner-only: ingest a failed document again (or one whose ingestion stopped with its process).

    Raises:
        ConflictError: the document is complete, still uploading, or being ingested right now.
    """
    document = await _owned_document(assistants, documents, user, assistant_id, document_id)
    running = ingestion.is_running(document.assistant_id, document.document_id)
    stale = document.status in _IN_PROGRESS and datetime.now(UTC) - document.updated_at > STALE_AFTER
    if running or not (document.status is DocumentStatus.FAILED or stale):
        raise ConflictError(
            f"Document {document_id!r} is {document.status.value}; only a failed ingestion can be retried."
        )
    queued = await documents.update_progress(
        document.assistant_id,
        document.document_id,
        DocumentProgress(status=DocumentStatus.CHUNKING, chunks_done=0),
    )
    if queued is None:
        raise NotFoundError(f"Document {document_id!r} was not found.")
    ingestion.start(queued)
    return queued


async def ingest_document(
    documents: DocumentRepository, blobs: BlobStore, knowledge: KnowledgeBases, document: Document
) -> Document | None:
    """Parse, chunk, embed and index one document, recording status and progress on it as it goes.

    Returns:
        The document as last recorded, or `None` when it was deleted meanwhile (its chunks are then
        removed again).
    """
    assistant_id, document_id = document.assistant_id, document.document_id

    async def progress(done: int, total: int) -> None:
        await documents.update_progress(
            assistant_id,
            document_id,
            DocumentProgress(status=DocumentStatus.EMBEDDING, chunk_count=total, chunks_done=done),
        )

    try:
        await documents.update_progress(
            assistant_id, document_id, DocumentProgress(status=DocumentStatus.CHUNKING, chunks_done=0)
        )
        data = await blobs.get(document.storage_key)
        if data is None:
            raise InvalidInputError("The file was never uploaded (or was removed). Upload it again.")
        if len(data) > document.size_bytes:
            raise InvalidInputError(
                f"The uploaded file is {len(data)} bytes, more than the {document.size_bytes} declared."
            )
        knowledge_base = await knowledge.get()
        result = await knowledge_base.ingest(
            assistant_id,
            document_id,
            filename=document.filename,
            content_type=document.content_type,
            data=data,
            on_progress=progress,
        )
    except ChatError as exc:
        # JUSTIFICATION: recorded on the document (failed, readable message) to see and retry; no caller.
        logger.warning("ingestion of %s failed: %s", document_id, exc.code.value, exc_info=exc)
        return await _fail(
            documents, document, _GENERIC_FAILURE if isinstance(exc, InternalError) else exc.message
        )
    except Exception as exc:
        # JUSTIFICATION: as above; an unexpected error is logged with its traceback, shown generically.
        logger.error("ingestion of %s failed unexpectedly", document_id, exc_info=exc)
        return await _fail(documents, document, _GENERIC_FAILURE)
    finished = await documents.update_progress(
        assistant_id,
        document_id,
        DocumentProgress(
            status=DocumentStatus.COMPLETE,
            chunk_count=result.chunk_count,
            chunks_done=result.chunk_count,
            content_hash=result.content_hash,
        ),
    )
    if finished is None:
        await knowledge_base.delete_document(assistant_id, document_id)
    return finished
