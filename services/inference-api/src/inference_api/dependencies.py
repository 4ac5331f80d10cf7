"""Request-scoped dependencies: settings, storage, the chat services, and the verified caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from chat_core.auth import DevTokenVerifier
from chat_core.errors import AuthenticationError, PermissionDeniedError
from chat_core.identity import User
from chat_storage import Storage
from inference_api.chat.service import ChatServices
from inference_api.config import Settings

__all__ = ["AdminUser", "ChatServicesDep", "CurrentUser", "SettingsDep", "StorageDep"]

_bearer = HTTPBearer(
    auto_error=False, description="A token from the identity provider (or `app-api dev-token`)."
)


async def _settings(request: Request) -> Settings:
    settings: Settings = request.state.settings
    return settings


async def _storage(request: Request) -> Storage:
    storage: Storage = request.state.storage
    return storage


async def _chat_services(request: Request) -> ChatServices:
    chat: ChatServices = request.state.chat
    return chat


async def _current_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> User:
    """Verify the bearer token; record the caller's profile the first time this process sees them."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError("A bearer token is required.")
    verifier = request.state.verifier
    if isinstance(verifier, DevTokenVerifier):
        user: User = verifier.verify(credentials.credentials)
    else:  # OIDC may fetch signing keys over the network: keep the event loop free.
        user = await run_in_threadpool(verifier.verify, credentials.credentials)
    known: set[str] = request.state.known_users
    if user.user_id not in known:
        await request.state.storage.users.remember(user)
        known.add(user.user_id)
    return user


async def _admin_user(request: Request, user: Annotated[User, Depends(_current_user)]) -> User:
    settings: Settings = request.state.settings
    if not user.has_any_role(settings.admin_roles):
        raise PermissionDeniedError("This needs an administrator role.")
    return user


SettingsDep = Annotated[Settings, Depends(_settings)]
StorageDep = Annotated[Storage, Depends(_storage)]
ChatServicesDep = Annotated[ChatServices, Depends(_chat_services)]
CurrentUser = Annotated[User, Depends(_current_user)]
AdminUser = Annotated[User, Depends(_admin_user)]
