"""Background ingestion: one task per document, at most `concurrency` at once, one per assistant.

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
import weakref

from app_api.documents import service
from app_api.knowledge import KnowledgeBases
from chat_core.documents import Document
from chat_core.ports import BlobStore, DocumentRepository

__all__ = ["IngestionRunner"]

logger = logging.getLogger(__name__)

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
    ) -> None:
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
        async with assistant_lock, self._slots:
            return await service.ingest_document(self._documents, self._blobs, self._knowledge, document)

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
