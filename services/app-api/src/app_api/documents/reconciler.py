"""The background reconciler: unfinished documents that nobody is working on.

On the aws backend a browser uploads straight to S3, which app-api does not hear about: every few
seconds the reconciler looks at the documents still `uploading` (a keyed index, never a scan), queues
those whose file has arrived, and fails those whose upload link expired long ago, so a client polling
for the outcome gets one. On sqlite the blob route queues the document itself; the reconciler then only
catches an upload whose queueing was cut short (a process stopped between storing and queueing).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from app_api.documents.service import IngestionQueue
from chat_core.clock import utc_now
from chat_core.documents import DocumentProgress, DocumentStatus
from chat_core.errors import ChatError
from chat_core.ports import BlobStore, DocumentRepository

__all__ = ["DocumentReconciler"]

logger = logging.getLogger(__name__)

_BATCH = 100
_NEVER_ARRIVED = "The file never arrived: its upload link expired. Upload the file again."


class DocumentReconciler:
    """Queues arrived uploads and fails abandoned ones, in one pass (`run_once`) or forever (`run`)."""

    def __init__(
        self,
        documents: DocumentRepository,
        blobs: BlobStore,
        queue: IngestionQueue,
        *,
        interval: float,
        upload_expires_in: int,
    ) -> None:
        self._documents = documents
        self._blobs = blobs
        self._queue = queue
        self._interval = interval
        self._abandoned_after = timedelta(seconds=upload_expires_in) + timedelta(minutes=5)

    async def run_once(self) -> int:
        """One pass over the unfinished documents; how many were queued."""
        queued = 0
        for document in await self._documents.list_unfinished(limit=_BATCH):
            if document.status is not DocumentStatus.UPLOADING or self._queue.is_running(
                document.assistant_id, document.document_id
            ):
                continue
            if await self._blobs.head(document.storage_key) is not None:
                queued += self._queue.start(document)
            elif utc_now() - document.created_at > self._abandoned_after:
                await self._documents.update_progress(
                    document.assistant_id,
                    document.document_id,
                    DocumentProgress(status=DocumentStatus.FAILED, error_message=_NEVER_ARRIVED),
                )
        return queued

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
