"""Opening what the app needs once (storage, token verifier) and closing it on shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TypedDict

from fastapi import FastAPI

from app_api.config import Settings
from app_api.security import build_token_verifier
from chat_core.auth import TokenVerifier
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


def lifespan_for(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[State]]:
    """A lifespan that opens storage for `settings`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        verifier = build_token_verifier(settings)
        blob_secret = (
            load_or_create_secret(settings.data_dir, BLOB_SIGNING_KEY_FILE)
            if settings.storage == "sqlite"
            else ""
        )
        async with open_storage(settings.storage_config(blob_secret)) as storage:
            yield State(settings=settings, storage=storage, verifier=verifier, known_users=set())

    return lifespan
