"""Knowledge-base documents: upload URLs, listing, downloads, deletion, and queueing their ingestion.

Ingestion has one trigger, the file being stored, and one explicit restart:

- `sqlite`: the upload goes to app-api's own blob route, which queues the document once the file is
  stored. `aws`: the upload goes straight to S3; `POST .../documents/{documentId}/complete` confirms it
  (checked with a HEAD), and app-api's background reconciler queues uploads that arrived unconfirmed.
- `POST .../documents/{documentId}/retry` restarts a failed ingestion.

Reading documents (get, list) never starts anything. The pipeline itself is `documents.ingestion`;
this module only needs the small `IngestionQueue` port of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app_api.assistants import service as assistants_service
from chat_core.clock import utc_now
from chat_core.documents import Document, DocumentProgress, DocumentStatus
from chat_core.errors import ConflictError, InvalidInputError, NotFoundError
from chat_core.files import sanitize_filename
from chat_core.identity import User
from chat_core.ids import AssistantId, DocumentId, new_document_id, validate_id
from chat_core.pagination import Page
from chat_core.ports import AssistantRepository, BlobStore, DocumentRepository
from chat_http.knowledge import KnowledgeBases
from chat_rag.parsing import detect_kind

__all__ = [
    "DocumentDownload",
    "DocumentUpload",
    "IngestionQueue",
    "complete_upload",
    "create_upload_url",
    "delete_document",
    "document_key",
    "download_document",
    "get_document",
    "list_documents",
    "parse_document_key",
    "retry_document",
]

_IN_PROGRESS = frozenset({DocumentStatus.CHUNKING, DocumentStatus.EMBEDDING})


class IngestionQueue(Protocol):
    """Where documents whose file is stored are queued for ingestion (`documents.ingestion`)."""

    def start(self, document: Document) -> bool:
        """Queue `document`; `False` when it is already queued or running in this process."""
        ...

    def is_running(self, assistant_id: str, document_id: str) -> bool:
        """Whether this process is ingesting (or about to ingest) the document."""
        ...


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


async def list_documents(
    assistants: AssistantRepository,
    documents: DocumentRepository,
    user: User,
    assistant_id: str,
    *,
    limit: int,
    next_token: str | None,
) -> Page[Document]:
    """Owner-only: the assistant's documents, newest first."""
    assistant = await assistants_service.load_for_owner(assistants, user, assistant_id)
    return await documents.list(assistant.assistant_id, limit=limit, cursor=next_token)


async def get_document(
    assistants: AssistantRepository,
    documents: DocumentRepository,
    user: User,
    assistant_id: str,
    document_id: str,
) -> Document:
    """Owner-only: one document with its ingestion status and progress."""
    return await _owned_document(assistants, documents, user, assistant_id, document_id)


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


async def complete_upload(
    assistants: AssistantRepository,
    documents: DocumentRepository,
    blobs: BlobStore,
    ingestion: IngestionQueue,
    user: User,
    assistant_id: str,
    document_id: str,
) -> Document:
    """Owner-only: confirm the file was uploaded and queue its ingestion (the reconciler would, too).

    Idempotent: a document whose upload was already picked up is returned as it is.

    Raises:
        NotFoundError: the file has not arrived yet (nothing changes; confirm again after uploading).
        ConflictError: the ingestion failed (`retry` restarts it).
    """
    document = await _owned_document(assistants, documents, user, assistant_id, document_id)
    if document.status is DocumentStatus.FAILED:
        raise ConflictError(f"Document {document_id!r} failed; retry it instead.")
    if document.status is not DocumentStatus.UPLOADING:
        return document
    if await blobs.head(document.storage_key) is None:
        raise NotFoundError(f"The file of document {document_id!r} has not been uploaded yet.")
    ingestion.start(document)
    return document


async def retry_document(
    assistants: AssistantRepository,
    documents: DocumentRepository,
    ingestion: IngestionQueue,
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
    stale = document.status in _IN_PROGRESS and not document.lease_live(utc_now())  # its process died
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
