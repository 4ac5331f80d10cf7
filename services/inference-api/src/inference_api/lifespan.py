"""Opening what the app needs once (storage, token verifier, chat services) and closing it on shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import TypedDict

from fastapi import FastAPI

from chat_core.auth import TokenVerifier
from chat_storage import Storage, open_storage
from chat_storage.secrets import load_or_create_secret
from inference_api.chat.service import ChatServices
from inference_api.chat.turns import TurnPolicy, TurnRunner
from inference_api.config import Settings
from inference_api.knowledge import KnowledgeBases
from inference_api.models.base import ModelFactory
from inference_api.models.providers import ProviderModels
from inference_api.security import build_token_verifier
from inference_api.tools.registry import ToolRegistry

__all__ = ["State", "lifespan_for"]

BLOB_SIGNING_KEY_FILE = "blob-signing-secret"


class State(TypedDict):
    """What every request can reach through `request.state`."""

    settings: Settings
    storage: Storage
    verifier: TokenVerifier
    known_users: set[str]
    chat: ChatServices


def lifespan_for(
    settings: Settings, *, model_factory: ModelFactory | None = None
) -> Callable[[FastAPI], AbstractAsyncContextManager[State]]:
    """A lifespan that opens storage and the chat services for `settings`.

    `model_factory` replaces the provider models (benchmarks and tests use a scripted model).
    """

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
            models: ModelFactory
            if model_factory is None:
                providers = ProviderModels(settings)
                stack.push_async_callback(providers.aclose)
                models = providers
            else:
                models = model_factory
            turns = TurnRunner(
                storage,
                TurnPolicy(
                    max_attempts=settings.model_max_attempts,
                    initial_delay=settings.model_retry_delay,
                    window_messages=max(40, 2 * settings.history_messages),
                    flush_seconds=settings.sse_flush_ms / 1000,
                ),
            )
            # Last in, first out: running turns finish and are stored before storage closes.
            stack.push_async_callback(turns.drain, settings.shutdown_grace_seconds)
            chat = ChatServices(
                settings=settings,
                storage=storage,
                models=models,
                tools=ToolRegistry(settings.tool_roles),
                knowledge=knowledge,
                turns=turns,
            )
            yield State(settings=settings, storage=storage, verifier=verifier, known_users=set(), chat=chat)

    return lifespan
