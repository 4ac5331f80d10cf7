"""The background reconciler: unfinished documents that nobody is working on.

At start-up and every few seconds the reconciler reads the unfinished documents (a keyed index, never
a scan) and, for each one no process holds a live ingestion lease on:

- still `uploading`: queues it when its file has arrived (on aws a browser uploads straight to S3,
  which app-api does not hear about; on sqlite this catches an upload whose queueing was cut short), or
  fails it when its upload link expired long ago, so a client polling for the outcome gets one;
- `chunking` or `embedding`: its ingestion was cut (the process holding the lease died): queues it
  again, which resumes it from the file, or after `max_attempts` interrupted attempts fails it with a
  readable reason, so that `retry` takes it at once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from app_api.documents.ingestion import process_holder
from app_api.documents.service import IngestionQueue
from chat_core.clock import utc_now
from chat_core.documents import Document, DocumentProgress, DocumentStatus
from chat_core.errors import ChatError
from chat_core.ports import BlobStore, DocumentRepository

__all__ = ["DocumentReconciler"]

logger = logging.getLogger(__name__)

_BATCH = 100
_NEVER_ARRIVED = "The file never arrived: its upload link expired. Upload the file again."
_INTERRUPTED = (
    "Ingestion was interrupted {attempts} times (the service stopped while working on it). "
    "Retry it, or upload the file again."
)


class DocumentReconciler:
    """Queues arrived uploads and cut ingestions, fails abandoned ones: one pass (`run_once`) or forever (`run`)."""

    def __init__(
        self,
        documents: DocumentRepository,
        blobs: BlobStore,
        queue: IngestionQueue,
        *,
        interval: float,
        upload_expires_in: int,
        lease: timedelta = timedelta(seconds=60),
        max_attempts: int = 3,
    ) -> None:
        self._documents = documents
        self._blobs = blobs
        self._queue = queue
        self._interval = interval
        self._abandoned_after = timedelta(seconds=upload_expires_in) + timedelta(minutes=5)
        self._lease = lease
        self._max_attempts = max_attempts
        self._holder = process_holder("reconcile")

    async def run_once(self) -> int:
        """One pass over the unfinished documents; how many were queued (arrived or resumed)."""
        queued = 0
        for document in await self._documents.list_unfinished(limit=_BATCH):
            if self._queue.is_running(document.assistant_id, document.document_id):
                continue
            if document.lease_live(utc_now()):
                continue  # another process is on it
            if document.status is DocumentStatus.UPLOADING:
                if await self._blobs.head(document.storage_key) is not None:
                    queued += self._queue.start(document)
                elif utc_now() - document.created_at > self._abandoned_after:
                    await self._documents.update_progress(
                        document.assistant_id,
                        document.document_id,
                        DocumentProgress(status=DocumentStatus.FAILED, error_message=_NEVER_ARRIVED),
                    )
            elif document.ingest_attempts >= self._max_attempts:
                await self._give_up(document)
            else:
                logger.info(
                    "ingestion of %s was cut (attempt %d): resumed",
                    document.document_id,
                    document.ingest_attempts,
                )
                queued += self._queue.start(document)
        return queued

    async def _give_up(self, document: Document) -> None:
        """Fail a document whose ingestion kept being cut, under the lease so no one resumes it meanwhile."""
        leased = await self._documents.acquire_lease(
            document.assistant_id,
            document.document_id,
            holder=self._holder,
            expires_at=utc_now() + self._lease,
        )
        if leased is None:
            return  # taken meanwhile, finished or deleted
        await self._documents.update_progress(
            document.assistant_id,
            document.document_id,
            DocumentProgress(
                status=DocumentStatus.FAILED,
                error_message=_INTERRUPTED.format(attempts=document.ingest_attempts),
            ),
            holder=self._holder,
        )

    async def run(self) -> None:
        """Pass after pass until cancelled (at shutdown)."""
        while True:
            try:
                await self.run_once()
            except ChatError as exc:
                # JUSTIFICATION: background work with no caller; storage being down is retried next pass.
                logger.warning("document reconciliation failed: %s", exc.code.value, exc_info=exc)
            except Exception:
                # JUSTIFICATION: the background loop's boundary: logged with its traceback, tried again next pass.
                logger.exception("document reconciliation failed unexpectedly")
            await asyncio.sleep(self._interval)
