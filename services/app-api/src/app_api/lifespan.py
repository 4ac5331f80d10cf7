"""Opening what the app needs once, and closing it on shutdown.

Storage, the token verifier, the knowledge base (opened on first use), the ingestion runner and the
title model all live for the lifetime of the process and are shared by every request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import TypedDict

from fastapi import FastAPI

from app_api.chat.titles import TitleModel, open_title_model
from app_api.config import Settings
from app_api.documents.ingestion import IngestionRunner
from app_api.knowledge import KnowledgeBases
from app_api.security import build_token_verifier
from chat_core.auth import TokenVerifier
from chat_core.files import UploadPolicy
from chat_storage import Storage, open_storage
from chat_storage.secrets import load_or_create_secret

__all__ = ["State", "lifespan_for"]

BLOB_SIGNING_KEY_FILE = "blob-signing-secret"


class State(TypedDict):
    """What every request can reach through `request.state`."""

    settings: Settings
    storage: Storage
    verifier: TokenVerifier
    known_users: set[str]
    blob_secret: str
    """HMAC key of the sqlite backend's blob URLs (empty on the aws backend)."""
    upload_policy: UploadPolicy
    knowledge: KnowledgeBases
    ingestion: IngestionRunner
    title_model: TitleModel | None


def lifespan_for(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[State]]:
    """A lifespan that opens storage and the rest for `settings`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        verifier = build_token_verifier(settings)
        blob_secret = (
            load_or_create_secret(settings.data_dir, BLOB_SIGNING_KEY_FILE)
            if settings.storage == "sqlite"
            else ""
        )
        async with AsyncExitStack() as stack:
            storage = await stack.enter_async_context(open_storage(settings.storage_config(blob_secret)))
            knowledge = KnowledgeBases(settings.rag_config())
            stack.push_async_callback(knowledge.aclose)
            ingestion = IngestionRunner(
                storage.documents, storage.blobs, knowledge, concurrency=settings.ingest_concurrency
            )
            stack.push_async_callback(ingestion.aclose)
            title_model = await stack.enter_async_context(open_title_model(settings))
            yield State(
                settings=settings,
                storage=storage,
                verifier=verifier,
                known_users=set(),
                blob_secret=blob_secret,
                upload_policy=settings.upload_policy(),
                knowledge=knowledge,
                ingestion=ingestion,
                title_model=title_model,
            )

    return lifespan
