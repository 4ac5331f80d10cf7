"""Which model and tools a turn may use: the AppRole rule of `chat_core.roles`, as app-api applies it.

The caller's permissions (their AppRoles) and the tool catalogue come from the edge's caches
(`chat_http.permissions`), so a role or catalogue change made in app-api applies here within
`CHAT_ROLES_CACHE_SECONDS`; when either store cannot be read the turn is a 503, never allowed and never
refused as a 403.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chat_agent.tools.registry import ToolRegistry
from chat_core.errors import NotFoundError, PermissionDeniedError
from chat_core.managed_models import ManagedModel
from chat_core.roles import UserPermissions, managed_model_allowed, select_tools
from chat_core.tools import ToolDefinition

__all__ = ["TurnAccess", "check_model", "resolve_tools"]


@dataclass(frozen=True, slots=True)
class TurnAccess:
    """What the caller's AppRoles grant, and the tools the catalogue offers."""

    permissions: UserPermissions
    offered: Mapping[str, ToolDefinition]


def check_model(managed: ManagedModel | None, model_id: str, access: TurnAccess) -> ManagedModel:
    """The managed model a turn runs on, found by its `modelId`.

    Raises:
        NotFoundError: no managed model has this `modelId` (404).
        PermissionDeniedError: it is disabled, or no AppRole (nor legacy JWT-role grant) allows it (403).
    """
    if managed is None:
        raise NotFoundError(f"Model {model_id!r} is not available.", field="model_id")
    if not managed_model_allowed(access.permissions, managed):
        raise PermissionDeniedError(f"You may not use the model {model_id!r}.", field="model_id")
    return managed


def resolve_tools(registry: ToolRegistry, access: TurnAccess, requested: Sequence[str] | None) -> list[Any]:
    """The strands tools of a turn: exactly those requested, each runnable, offered and granted.

    Raises:
        InvalidInputError: a name that is no tool of this service (422).
        PermissionDeniedError: a tool the catalogue does not offer as active, or that neither the
            caller's AppRoles nor `isPublic` grant (403; never silently dropped).
    """
    registry.check_known(requested)
    return registry.resolve(select_tools(access.permissions, requested, access.offered))
