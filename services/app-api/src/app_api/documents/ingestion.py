"""Background ingestion: the pipeline of one document, one task per document.

At most `concurrency` documents run at once, and one per assistant.

An assistant's documents share one index file: concurrent first writes into a new SQLite index were
measured to fail a document with "no such table", or to stall for the busy timeout.

A task records its outcome on the document (status, chunk progress, a readable `errorMessage`); it
has no caller to raise to. Tasks are per process: a document already running here is never started
twice, and shutdown cancels what is still running (the document can then be retried).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import weakref
from collections.abc import Callable
from contextlib import AsyncExitStack, nullcontext
from typing import TYPE_CHECKING

from chat_core.documents import Document, DocumentProgress, DocumentStatus
from chat_core.errors import ChatError, InternalError, InvalidInputError
from chat_core.ports import BlobStore, DocumentRepository
from chat_http.knowledge import KnowledgeBases

if TYPE_CHECKING:
    from chat_http.metrics import EdgeMetrics, IngestionOutcome

__all__ = ["IngestionRunner", "ingest_document"]

logger = logging.getLogger(__name__)

_GENERIC_FAILURE = "Ingestion failed unexpectedly. Retry it, or upload the file again."

_Key = tuple[str, str]


class IngestionRunner:
    """Starts and tracks ingestion tasks."""

    def __init__(
        self,
        documents: DocumentRepository,
        blobs: BlobStore,
        knowledge: KnowledgeBases,
        *,
        concurrency: int,
        metrics: EdgeMetrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._documents = documents
        self._blobs = blobs
        self._knowledge = knowledge
        self._slots = asyncio.Semaphore(concurrency)
        self._per_assistant: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._tasks: dict[_Key, asyncio.Task[Document | None]] = {}

    def is_running(self, assistant_id: str, document_id: str) -> bool:
        """Whether this process is ingesting (or about to ingest) the document."""
        return (assistant_id, document_id) in self._tasks

    def start(self, document: Document) -> bool:
        """Ingest `document` in the background; `False` when it is already under way here."""
        key = (document.assistant_id, document.document_id)
        if key in self._tasks:
            return False
        task = asyncio.create_task(self._run(document), name=f"ingest {document.document_id}")
        self._tasks[key] = task
        logger.info("ingestion of %s queued", document.document_id)
        task.add_done_callback(functools.partial(self._finished, key))
        return True

    async def wait(self, assistant_id: str, document_id: str) -> None:
        """Wait until the document's task (if any) has ended."""
        task = self._tasks.get((assistant_id, document_id))
        if task is not None:
            await asyncio.wait([task])

    async def _run(self, document: Document) -> Document | None:
        assistant_lock = self._per_assistant.setdefault(document.assistant_id, asyncio.Lock())
        metrics = self._metrics
        async with AsyncExitStack() as held:
            with metrics.ingestion_queue_depth.track_inprogress() if metrics else nullcontext():
                await held.enter_async_context(assistant_lock)
                await held.enter_async_context(self._slots)
            if metrics is None:
                return await ingest_document(self._documents, self._blobs, self._knowledge, document)
            with metrics.ingestion_running.track_inprogress():
                return await self._measured(metrics, document)

    async def _measured(self, metrics: EdgeMetrics, document: Document) -> Document | None:
        """Ingest `document`, counting its chunks as they are indexed and its outcome at the end."""
        started = time.perf_counter()
        outcome: IngestionOutcome = "cancelled"
        try:
            finished = await ingest_document(
                self._documents,
                self._blobs,
                self._knowledge,
                document,
                on_chunks=metrics.ingestion_chunks.inc,
            )
            outcome = (
                "deleted"
                if finished is None
                else "complete"
                if finished.status is DocumentStatus.COMPLETE
                else "failed"
            )
            return finished
        except Exception:
            outcome = "failed"  # the outcome itself could not be recorded
            raise
        finally:
            metrics.ingestion_documents.labels(outcome).inc()
            metrics.ingestion_duration.labels(outcome).observe(time.perf_counter() - started)

    def _finished(self, key: _Key, task: asyncio.Task[Document | None]) -> None:
        self._tasks.pop(key, None)
        if task.cancelled():
            logger.info("ingestion of %s cancelled", key[1])
        elif (error := task.exception()) is None:
            outcome = task.result()
            logger.info("ingestion of %s ended: %s", key[1], outcome.status.value if outcome else "deleted")
        else:
            # The outcome could not even be recorded (storage down): the document stays in progress
            # and can be retried once storage is back.
            logger.error("ingestion of %s could not record its outcome", key[1], exc_info=error)

    async def aclose(self) -> None:
        """Cancel every task still running and wait for them to end."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _fail(documents: DocumentRepository, document: Document, message: str) -> Document | None:
    return await documents.update_progress(
        document.assistant_id,
        document.document_id,
        DocumentProgress(status=DocumentStatus.FAILED, error_message=message),
    )


async def ingest_document(
    documents: DocumentRepository,
    blobs: BlobStore,
    knowledge: KnowledgeBases,
    document: Document,
    *,
    on_chunks: Callable[[int], None] | None = None,
) -> Document | None:
    """Parse, chunk, embed and index one document, recording status and progress on it as it goes.

    `on_chunks` is told how many chunks were embedded and indexed (none when the content was already).

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
    if on_chunks is not None and not result.skipped:
        on_chunks(result.chunk_count)
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
