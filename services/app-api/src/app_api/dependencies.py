"""Request-scoped dependencies: settings, storage, the verified caller, and the shared helpers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from app_api.chat.titles import TitleModel
from app_api.config import Settings
from app_api.documents.ingestion import IngestionRunner
from app_api.knowledge import KnowledgeBases
from chat_core.auth import DevTokenVerifier
from chat_core.errors import AuthenticationError, PermissionDeniedError
from chat_core.files import UploadPolicy
from chat_core.identity import User
from chat_storage import Storage

__all__ = [
    "AdminUser",
    "BlobSecretDep",
    "CurrentUser",
    "IngestionDep",
    "KnowledgeDep",
    "SettingsDep",
    "StorageDep",
    "TitleModelDep",
    "UploadPolicyDep",
]

_bearer = HTTPBearer(
    auto_error=False, description="A token from the identity provider (or `app-api dev-token`)."
)


async def _settings(request: Request) -> Settings:
    settings: Settings = request.state.settings
    return settings


async def _storage(request: Request) -> Storage:
    storage: Storage = request.state.storage
    return storage


async def _blob_secret(request: Request) -> str:
    secret: str = request.state.blob_secret
    return secret


async def _upload_policy(request: Request) -> UploadPolicy:
    policy: UploadPolicy = request.state.upload_policy
    return policy


async def _knowledge(request: Request) -> KnowledgeBases:
    knowledge: KnowledgeBases = request.state.knowledge
    return knowledge


async def _ingestion(request: Request) -> IngestionRunner:
    ingestion: IngestionRunner = request.state.ingestion
    return ingestion


async def _title_model(request: Request) -> TitleModel | None:
    model: TitleModel | None = request.state.title_model
    return model


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
CurrentUser = Annotated[User, Depends(_current_user)]
AdminUser = Annotated[User, Depends(_admin_user)]
BlobSecretDep = Annotated[str, Depends(_blob_secret)]
UploadPolicyDep = Annotated[UploadPolicy, Depends(_upload_policy)]
KnowledgeDep = Annotated[KnowledgeBases, Depends(_knowledge)]
IngestionDep = Annotated[IngestionRunner, Depends(_ingestion)]
TitleModelDep = Annotated[TitleModel | None, Depends(_title_model)]
