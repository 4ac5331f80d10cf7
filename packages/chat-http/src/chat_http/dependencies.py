"""Request dependencies both services share: the verified caller, administrators, storage, knowledge."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from chat_core.errors import AuthenticationError, PermissionDeniedError
from chat_core.identity import User
from chat_core.roles import UserPermissions
from chat_core.tools import ToolDefinition, offered_tools
from chat_http.auth import DevTokenVerifier
from chat_http.knowledge import KnowledgeBases
from chat_http.state import service_state
from chat_storage import Storage

__all__ = [
    "AdminUser",
    "CurrentPermissions",
    "CurrentUser",
    "KnowledgeDep",
    "OfferedTools",
    "StorageDep",
    "SystemAdminUser",
    "TurnRateLimit",
    "WriteRateLimit",
    "admin_user",
    "current_permissions",
    "current_user",
    "offered_catalogue",
    "system_admin_user",
    "turn_rate_limit",
    "write_rate_limit",
]

_bearer = HTTPBearer(
    auto_error=False, description="A token from the identity provider (or `app-api dev-token`)."
)


async def _storage(request: Request) -> Storage:
    return service_state(request).storage


async def _knowledge(request: Request) -> KnowledgeBases:
    return service_state(request).knowledge


async def current_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> User:
    """Verify the bearer token; record the caller's profile the first time this process sees them.

    A token that verified is kept until it expires, at most `CHAT_AUTH_CACHE_SECONDS` (`VerifiedTokens`).

    Raises:
        AuthenticationError: no bearer token, or one that does not verify (401).
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError("A bearer token is required.")
    state = service_state(request)
    token = credentials.credentials
    user = state.tokens.get(token)
    if user is None:
        if isinstance(state.verifier, DevTokenVerifier):
            verified = state.verifier.verify_token(token)
        else:  # OIDC may fetch signing keys over the network: keep the event loop free.
            verified = await run_in_threadpool(state.verifier.verify_token, token)
        state.tokens.add(token, verified)
        user = verified.user
    if state.recorded_profiles.first_sight(user):
        await state.storage.users.remember(user)
    return user


async def admin_user(request: Request, user: Annotated[User, Depends(current_user)]) -> User:
    """The caller, if one of their roles is an administrator role (`CHAT_ADMIN_ROLES`).

    Raises:
        PermissionDeniedError: the caller is not an administrator (403).
    """
    if not user.has_any_role(service_state(request).settings.admin_roles):
        raise PermissionDeniedError("This needs an administrator role.")
    return user


async def system_admin_user(request: Request, user: Annotated[User, Depends(current_user)]) -> User:
    """The caller, if one of their roles is a system-administrator role (`CHAT_SYSTEM_ADMIN_ROLES`).

    Raises:
        PermissionDeniedError: the caller is not a system administrator (403).
    """
    if not user.has_any_role(service_state(request).settings.system_admin_roles):
        raise PermissionDeniedError("This needs a system administrator role.")
    return user


async def current_permissions(
    request: Request, user: Annotated[User, Depends(current_user)]
) -> UserPermissions:
    """What the caller's AppRoles grant (cached catalogue; 503 when the role store cannot be read)."""
    state = service_state(request)
    return await state.role_cache.permissions(state.storage.roles, user)


async def offered_catalogue(request: Request) -> Mapping[str, ToolDefinition]:
    """The catalogue entries of the tools this platform runs, by id (cached; 503 when unreadable)."""
    state = service_state(request)
    catalogue = await state.tool_cache.catalogue(state.storage.tools)
    return offered_tools(catalogue.values(), state.tool_registry.ids)


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def turn_rate_limit(
    request: Request, response: Response, user: Annotated[User, Depends(current_user)]
) -> None:
    """Count a chat turn against the caller's turn rate (429 `rate_limit_exceeded` when over it)."""
    limits = service_state(request).rate_limits
    if limits is not None:
        response.headers.update((await limits.hit("turn", user.user_id)).headers())


async def write_rate_limit(
    request: Request, response: Response, user: Annotated[User, Depends(current_user)]
) -> None:
    """Count a request that changes something against the caller's write rate (reads are free)."""
    limits = service_state(request).rate_limits
    if limits is not None and request.method not in _SAFE_METHODS:
        response.headers.update((await limits.hit("write", user.user_id)).headers())


TurnRateLimit = Depends(turn_rate_limit)
"""For `dependencies=[...]` of a chat-turn route."""
WriteRateLimit = Depends(write_rate_limit)
"""For `dependencies=[...]` of an authenticated router: counts its POST, PUT, PATCH and DELETE requests."""
StorageDep = Annotated[Storage, Depends(_storage)]
KnowledgeDep = Annotated[KnowledgeBases, Depends(_knowledge)]
CurrentUser = Annotated[User, Depends(current_user)]
AdminUser = Annotated[User, Depends(admin_user)]
SystemAdminUser = Annotated[User, Depends(system_admin_user)]
CurrentPermissions = Annotated[UserPermissions, Depends(current_permissions)]
OfferedTools = Annotated[Mapping[str, ToolDefinition], Depends(offered_catalogue)]
