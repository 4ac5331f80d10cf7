"""Background ingestion: the pipeline of one document, one task per document.

At most `concurrency` documents run at once, and one per assistant.

An assistant's documents share one index file: concurrent first writes into a new SQLite index were
measured to fail a document with "no such table", or to stall for the busy timeout.

A task records its outcome on the document (status, chunk progress, a readable `errorMessage`); it
has no caller to raise to. A document already running here is never started twice, and across
processes a task works only while it holds the document's ingestion lease: it takes the lease with one
conditional write, renews it every third of its length (the heartbeat) and writes every status for
the lease, so a process that lost it (paused past its lease, which another process then took) stops
at its next write. A process that dies leaves its lease to expire; the reconciler then resumes the
document (`documents.reconciler`). Shutdown cancels what is still running.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager, nullcontext
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from chat_core.clock import utc_now
from chat_core.documents import Document, DocumentProgress, DocumentStatus
from chat_core.errors import ChatError, InternalError, InvalidInputError
from chat_core.ports import BlobStore, DocumentRepository
from chat_http.knowledge import KnowledgeBases

if TYPE_CHECKING:
    from chat_http.metrics import EdgeMetrics, IngestionOutcome

__all__ = ["IngestionRunner", "ingest_document", "process_holder"]

logger = logging.getLogger(__name__)

_GENERIC_FAILURE = "Ingestion failed unexpectedly. Retry it, or upload the file again."

_Key = tuple[str, str]


def process_holder(role: str) -> str:
    """A lease holder name unique to this process (host, pid and a random part): `role@host:pid:xxxxxxxx`."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class IngestionRunner:
    """Starts and tracks ingestion tasks; each ingests only while it holds the document's lease."""

    def __init__(
        self,
        documents: DocumentRepository,
        blobs: BlobStore,
        knowledge: KnowledgeBases,
        *,
        concurrency: int,
        lease: timedelta = timedelta(seconds=60),
        metrics: EdgeMetrics | None = None,
    ) -> None:
        self._lease = lease
        self.holder = process_holder("ingest")
        """The name this runner's leases are taken under."""
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
            leased = await self._documents.acquire_lease(
                document.assistant_id, document.document_id, holder=self.holder, expires_at=self._expiry()
            )
            if leased is None:
                logger.info(
                    "ingestion of %s not started: finished, gone, or leased elsewhere", document.document_id
                )
                return None
            await held.enter_async_context(self._heartbeat(leased))
            if metrics is None:
                return await ingest_document(
                    self._documents, self._blobs, self._knowledge, leased, holder=self.holder
                )
            with metrics.ingestion_running.track_inprogress():
                return await self._measured(metrics, leased)

    def _expiry(self) -> datetime:
        return utc_now() + self._lease

    @asynccontextmanager
    async def _heartbeat(self, document: Document) -> AsyncIterator[None]:
        """Renew the lease every third of its length while the body runs; cancel the body if it is lost.

        A body cancelled from outside (shutdown) hands the lease back, so that the next process's
        reconciler resumes the document at once instead of after the lease.
        """
        ingestion = asyncio.current_task()
        assert ingestion is not None, "called from the ingestion task"
        lost = False

        async def beat() -> None:
            nonlocal lost
            while True:
                await asyncio.sleep(self._lease.total_seconds() / 3)
                try:
                    kept = await self._documents.renew_lease(
                        document.assistant_id,
                        document.document_id,
                        holder=self.holder,
                        expires_at=self._expiry(),
                    )
                except ChatError as exc:
                    # JUSTIFICATION: a storage hiccup; the next beat tries again, and should the lease lapse
                    # meanwhile, the ingestion's own writes (made for the lease) stop it.
                    logger.warning("lease of %s not renewed: %s", document.document_id, exc.code.value)
                    continue
                if not kept:
                    logger.warning("ingestion of %s lost its lease: stopped", document.document_id)
                    lost = True
                    ingestion.cancel()
                    return

        beating = asyncio.create_task(beat(), name=f"lease {document.document_id}")
        try:
            yield
        except asyncio.CancelledError:
            if not lost:
                await self._release(document)
            raise
        finally:
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)

    async def _release(self, document: Document) -> None:
        """Hand the lease back (it expires now); the document stays where it was, to be resumed."""
        try:
            await self._documents.renew_lease(
                document.assistant_id, document.document_id, holder=self.holder, expires_at=utc_now()
            )
        except ChatError as exc:
            # JUSTIFICATION: stopping anyway; an unreleased lease only delays the resume until it expires.
            logger.warning("lease of %s not handed back: %s", document.document_id, exc.code.value)

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
                holder=self.holder,
            )
            outcome = (
                "deleted"
                if finished is None
                else "complete"
                if finished.status is DocumentStatus.COMPLETE
                else "failed"
                if finished.status is DocumentStatus.FAILED
                else "cancelled"  # another process holds the lease now
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


class _Stopped(Exception):
    """A write for the lease found the document gone or the lease taken: stop and write nothing more."""


async def ingest_document(
    documents: DocumentRepository,
    blobs: BlobStore,
    knowledge: KnowledgeBases,
    document: Document,
    *,
    on_chunks: Callable[[int], None] | None = None,
    holder: str | None = None,
) -> Document | None:
    """Parse, chunk, embed and index one document, recording status and progress on it as it goes.

    `on_chunks` is told how many chunks were embedded and indexed (none when the content was already).
    With `holder`, every status write is made for that holder's lease; once one finds the lease gone,
    nothing more is written.

    Returns:
        The document as last recorded, or `None` when it was deleted meanwhile (its chunks are then
        removed again).
    """
    assistant_id, document_id = document.assistant_id, document.document_id

    async def record(progress: DocumentProgress) -> Document:
        recorded = await documents.update_progress(assistant_id, document_id, progress, holder=holder)
        if recorded is None:
            raise _Stopped
        return recorded

    async def progress(done: int, total: int) -> None:
        await record(DocumentProgress(status=DocumentStatus.EMBEDDING, chunk_count=total, chunks_done=done))

    def failed(message: str) -> DocumentProgress:
        return DocumentProgress(status=DocumentStatus.FAILED, error_message=message)

    try:
        try:
            await record(DocumentProgress(status=DocumentStatus.CHUNKING, chunks_done=0))
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
        except _Stopped:
            raise
        except ChatError as exc:
            # JUSTIFICATION: recorded on the document (failed, readable message) to see and retry; no caller.
            logger.warning("ingestion of %s failed: %s", document_id, exc.code.value, exc_info=exc)
            return await record(failed(_GENERIC_FAILURE if isinstance(exc, InternalError) else exc.message))
        except Exception as exc:
            # JUSTIFICATION: as above; an unexpected error is logged with its traceback, shown generically.
            logger.error("ingestion of %s failed unexpectedly", document_id, exc_info=exc)
            return await record(failed(_GENERIC_FAILURE))
        if on_chunks is not None and not result.skipped:
            on_chunks(result.chunk_count)
        return await record(
            DocumentProgress(
                status=DocumentStatus.COMPLETE,
                chunk_count=result.chunk_count,
                chunks_done=result.chunk_count,
                content_hash=result.content_hash,
            )
        )
    except _Stopped:
        # JUSTIFICATION: the document was deleted, or another process holds its lease: either way this
        # ingestion's work is over; what is left to do is below.
        return await _stopped(documents, knowledge, document)


async def _stopped(
    documents: DocumentRepository, knowledge: KnowledgeBases, document: Document
) -> Document | None:
    """After a write found the lease gone: remove the chunks of a deleted document, else leave it be."""
    current = await documents.get(document.assistant_id, document.document_id)
    if current is None:
        knowledge_base = await knowledge.get()
        await knowledge_base.delete_document(document.assistant_id, document.document_id)
        return None
    logger.warning(
        "ingestion of %s stopped: its lease is %s's now", document.document_id, current.lease_holder
    )
    return current
