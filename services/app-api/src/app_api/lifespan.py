"""Opening what app-api needs once, and closing it on shutdown.

Storage, the token verifier, the knowledge base (opened on first use), the ingestion runner, the
document reconciler and the title model live for the lifetime of the process and are shared by every
request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx
from fastapi import FastAPI

from app_api.assistants.test_chat import PreviewChats
from app_api.auth.service import SignIn
from app_api.chat.titles import open_title_model
from app_api.config import Settings
from app_api.documents.ingestion import IngestionRunner
from app_api.documents.reconciler import DocumentReconciler
from app_api.state import AppState
from chat_http.secrets import blob_signing_secret
from chat_http.state import ServiceState, lifespan_state, open_edge_resources
from chat_http.telemetry import telemetry_of

if TYPE_CHECKING:
    from chat_agent.models.base import ModelFactory

__all__ = ["lifespan_for"]


def lifespan_for(
    settings: Settings, *, model_factory: ModelFactory | None = None
) -> Callable[[FastAPI], AbstractAsyncContextManager[dict[str, ServiceState]]]:
    """A lifespan that opens storage and the rest for `settings`.

    `model_factory` replaces the provider models of test chats (tests script a model with it).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, ServiceState]]:
        async with AsyncExitStack() as stack:
            telemetry = telemetry_of(app)
            edge = await open_edge_resources(settings, stack, telemetry=telemetry)
            storage = edge.storage
            ingestion = IngestionRunner(
                storage.documents,
                storage.blobs,
                edge.knowledge,
                concurrency=settings.ingest_concurrency,
                lease=timedelta(seconds=settings.ingest_lease_seconds),
                metrics=telemetry.metrics,
            )
            stack.push_async_callback(ingestion.aclose)
            reconciler = DocumentReconciler(
                storage.documents,
                storage.blobs,
                ingestion,
                interval=settings.ingest_reconcile_seconds,
                upload_expires_in=settings.document_url_expires_in,
                lease=timedelta(seconds=settings.ingest_lease_seconds),
                max_attempts=settings.ingest_max_attempts,
            )
            reconciling = asyncio.create_task(reconciler.run(), name="document reconciler")
            stack.push_async_callback(_cancel, reconciling)
            title_model = await stack.enter_async_context(open_title_model(settings))
            previews = PreviewChats(settings, model_factory=model_factory, metrics=telemetry.metrics)
            stack.push_async_callback(previews.aclose)
            sign_in_http = await stack.enter_async_context(
                httpx.AsyncClient(timeout=settings.oidc_timeout, follow_redirects=False)
            )
            yield lifespan_state(
                AppState(
                    settings=settings,
                    **edge.state_fields(),
                    blob_secret=blob_signing_secret(settings),
                    upload_policy=settings.upload_policy(),
                    ingestion=ingestion,
                    title_model=title_model,
                    previews=previews,
                    sign_in=SignIn.from_settings(settings, sign_in_http),
                )
            )

    return lifespan


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
