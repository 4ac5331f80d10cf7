"""AppRoles: what a caller may use, decided by one rule from their identity provider's roles.

A JWT role maps to AppRoles (`jwt_role_mappings`); each AppRole grants tools and models (`*` = all) and
may inherit the grants of other roles (one level). A caller's permissions are the union over the
enabled roles their JWT roles map to, plus what those inherit; with no match they get the `default`
role. The quota tier comes from the highest-priority role that names one. Nothing here does I/O:
services load the role catalogue and ask these functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from chat_core._base import CamelModel
from chat_core.clock import utc_now
from chat_core.errors import PermissionDeniedError
from chat_core.fields import NOT_NULL, StrictBool, StrictInt, omittable
from chat_core.identity import User
from chat_core.limits import clean_display_name
from chat_core.managed_models import ManagedModel
from chat_core.tools import ToolDefinition, ToolStatus

__all__ = [
    "DEFAULT_ROLE_ID",
    "PUBLIC_GRANT",
    "ROLE_ID_PATTERN",
    "SYSTEM_ADMIN_ROLE_ID",
    "WILDCARD",
    "AppRole",
    "AppRoleCreate",
    "AppRoleUpdate",
    "EffectivePermissions",
    "UserPermissions",
    "effective_permissions",
    "granted_by",
    "managed_model_allowed",
    "model_allowed",
    "resolve_permissions",
    "select_tools",
    "tool_allowed",
]

WILDCARD = "*"
"""In `granted_tools` / `granted_models`: every tool or model."""
DEFAULT_ROLE_ID = "default"
"""The role of callers whose JWT roles map to no enabled AppRole."""
SYSTEM_ADMIN_ROLE_ID = "system_admin"
ROLE_ID_PATTERN = r"^[a-z][a-z0-9_]{2,49}$"

_Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_MAX_GRANTS = 500


class EffectivePermissions(CamelModel):
    """What a role grants once its inheritance is resolved (stored with the role, recomputed on sync)."""

    tools: list[str] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)
    quota_tier: str | None = None


class _RoleFields(CamelModel):
    display_name: Annotated[str, Field(min_length=1, max_length=100), AfterValidator(clean_display_name)]
    description: str = Field(default="", max_length=500)
    jwt_role_mappings: list[_Name] = Field(default_factory=list, max_length=_MAX_GRANTS)
    inherits_from: list[Annotated[str, StringConstraints(pattern=ROLE_ID_PATTERN, max_length=50)]] = Field(
        default_factory=list, max_length=50
    )
    granted_tools: list[_Name] = Field(default_factory=list, max_length=_MAX_GRANTS)
    granted_models: list[Annotated[str, StringConstraints(min_length=1, max_length=256)]] = Field(
        default_factory=list, max_length=_MAX_GRANTS
    )
    quota_tier: str | None = Field(default=None, max_length=100)
    """The quota tier this role puts its members in (the highest-priority role's tier wins)."""
    priority: StrictInt = Field(default=0, ge=0, le=999)
    enabled: StrictBool = True


class AppRoleCreate(_RoleFields):
    """What an administrator sends to add a role."""

    role_id: str = Field(pattern=ROLE_ID_PATTERN, max_length=50)


class AppRoleUpdate(CamelModel):
    """A partial change; only the fields sent are applied."""

    display_name: Annotated[
        Annotated[str, Field(min_length=1, max_length=100), AfterValidator(clean_display_name)] | None,
        NOT_NULL,
    ] = omittable()
    description: Annotated[str | None, NOT_NULL] = omittable(max_length=500)
    jwt_role_mappings: Annotated[list[_Name] | None, NOT_NULL] = omittable(max_length=_MAX_GRANTS)
    inherits_from: Annotated[
        list[Annotated[str, StringConstraints(pattern=ROLE_ID_PATTERN, max_length=50)]] | None, NOT_NULL
    ] = omittable(max_length=50)
    granted_tools: Annotated[list[_Name] | None, NOT_NULL] = omittable(max_length=_MAX_GRANTS)
    granted_models: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=256)]] | None, NOT_NULL
    ] = omittable(max_length=_MAX_GRANTS)
    quota_tier: str | None = Field(default=None, max_length=100)
    """`null` clears it."""
    priority: Annotated[StrictInt | None, NOT_NULL] = omittable(ge=0, le=999)
    enabled: Annotated[StrictBool | None, NOT_NULL] = omittable()


class AppRole(AppRoleCreate):
    """A stored role. System roles (`system_admin`, `default`) cannot be deleted."""

    priority: int = Field(default=0, ge=0, le=1000)
    """0-999 for roles administrators make; the seeded `system_admin` has 1000."""
    effective_permissions: EffectivePermissions = Field(default_factory=EffectivePermissions)
    is_system_role: bool = False
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    created_by: str = "system"

    def updated(self, changes: AppRoleUpdate) -> AppRole:
        """A copy with `changes` applied and `updated_at` moved on (validated again)."""
        merged = self.model_dump() | changes.model_dump(exclude_unset=True) | {"updated_at": utc_now()}
        return AppRole.model_validate(merged)


def _union(lists: Iterable[Sequence[str]]) -> list[str]:
    names: set[str] = set()
    for items in lists:
        names.update(items)
    return [WILDCARD] if WILDCARD in names else sorted(names)


def effective_permissions(role: AppRole, catalogue: Mapping[str, AppRole]) -> EffectivePermissions:
    """The role's own grants plus those of the enabled roles it inherits from (one level, not theirs)."""
    parents = [
        catalogue[parent_id]
        for parent_id in role.inherits_from
        if parent_id in catalogue and catalogue[parent_id].enabled and parent_id != role.role_id
    ]
    tier = role.quota_tier
    for parent in sorted(parents, key=lambda parent: -parent.priority):
        tier = tier or parent.quota_tier
    return EffectivePermissions(
        tools=_union([role.granted_tools, *(parent.granted_tools for parent in parents)]),
        models=_union([role.granted_models, *(parent.granted_models for parent in parents)]),
        quota_tier=tier,
    )


class UserPermissions(CamelModel):
    """What one caller may use, resolved from the role catalogue."""

    app_roles: list[str]
    """The AppRoles that apply, highest priority first."""
    tools: list[str]
    models: list[str]
    quota_tier: str | None = None
    jwt_roles: list[str] = Field(default_factory=list)
    known_role_ids: frozenset[str] = Field(default_factory=frozenset, exclude=True)
    """Every role id of the catalogue (to read legacy JWT-role grants on managed models)."""

    @property
    def has_all_tools(self) -> bool:
        """Whether a role grants every tool."""
        return WILDCARD in self.tools

    @property
    def has_all_models(self) -> bool:
        """Whether a role grants every model."""
        return WILDCARD in self.models


def resolve_permissions(user: User, catalogue: Mapping[str, AppRole]) -> UserPermissions:
    """The one rule: which AppRoles apply to `user` and what they grant together.

    1. The enabled roles one of whose `jwt_role_mappings` is among the user's JWT roles.
    2. None: the `default` role, when it exists and is enabled (else nothing at all).
    3. Tools and models: the union of each role's grants and of its enabled parents' grants.
    4. Quota tier: that of the highest-priority role which has one (itself or inherited).
    """
    jwt_roles = set(user.roles)
    matched = [
        role
        for role in catalogue.values()
        if role.enabled and not jwt_roles.isdisjoint(role.jwt_role_mappings)
    ]
    if not matched and (default := catalogue.get(DEFAULT_ROLE_ID)) is not None and default.enabled:
        matched = [default]
    matched.sort(key=lambda role: (-role.priority, role.role_id))
    granted = [effective_permissions(role, catalogue) for role in matched]
    tier = next((grant.quota_tier for grant in granted if grant.quota_tier), None)
    return UserPermissions(
        app_roles=[role.role_id for role in matched],
        tools=_union(grant.tools for grant in granted),
        models=_union(grant.models for grant in granted),
        quota_tier=tier,
        jwt_roles=sorted(jwt_roles),
        known_role_ids=frozenset(catalogue),
    )


def model_allowed(
    permissions: UserPermissions,
    *,
    model_id: str,
    enabled: bool,
    allowed_app_roles: Sequence[str],
    available_to_roles: Sequence[str],
) -> bool:
    """Whether a caller may use a managed model.

    The model must be enabled and one of these must hold: a role grants `*` or the model id; the
    model's `allowedAppRoles` holds `*` or one of the caller's AppRoles; or it names a JWT role of the
    caller, either in `availableToRoles` or in `allowedAppRoles` as a name that is no AppRole id
    (models stored before AppRoles existed granted JWT roles there, and keep doing so).
    """
    if not enabled:
        return False
    if permissions.has_all_models or model_id in permissions.models:
        return True
    allowed = set(allowed_app_roles)
    if WILDCARD in allowed or not allowed.isdisjoint(permissions.app_roles):
        return True
    legacy = (allowed - permissions.known_role_ids) | set(available_to_roles)
    return not legacy.isdisjoint(permissions.jwt_roles)


def managed_model_allowed(permissions: UserPermissions, model: ManagedModel) -> bool:
    """`model_allowed` for a stored managed model (what `/models` lists and `/invocations` accepts)."""
    return model_allowed(
        permissions,
        model_id=model.model_id,
        enabled=model.enabled,
        allowed_app_roles=model.allowed_app_roles,
        available_to_roles=model.available_to_roles,
    )


PUBLIC_GRANT = "public"
"""In `granted_by`: the tool is public (the catalogue's `isPublic`), usable whatever the caller's roles."""


def tool_allowed(permissions: UserPermissions, tool: ToolDefinition) -> bool:
    """Whether a caller may use a catalogue entry: it is active, and public or granted by a role."""
    if tool.status != ToolStatus.ACTIVE:
        return False
    return tool.is_public or permissions.has_all_tools or tool.tool_id in permissions.tools


def granted_by(permissions: UserPermissions, tool: ToolDefinition) -> list[str]:
    """Why a caller may use a tool: `public` and/or the AppRoles that apply (empty: they may not)."""
    if not tool_allowed(permissions, tool):
        return []
    sources = [PUBLIC_GRANT] if tool.is_public else []
    if permissions.has_all_tools or tool.tool_id in permissions.tools:
        sources.extend(permissions.app_roles)
    return sources


def select_tools(
    permissions: UserPermissions, requested: Sequence[str] | None, offered: Mapping[str, ToolDefinition]
) -> list[str]:
    """The tools a turn may use: exactly those requested, each of which must be offered and allowed.

    Args:
        permissions: the caller's resolved permissions.
        requested: the tool ids the client enabled (`None` or empty: no tools).
        offered: the catalogue entries of tools the service can run, by id.

    Raises:
        PermissionDeniedError: a requested tool that is not in the catalogue, not active, or that
            neither a role nor `isPublic` grants (it is refused, not silently dropped).
    """
    chosen = list(dict.fromkeys(requested or []))
    denied = [name for name in chosen if name not in offered or not tool_allowed(permissions, offered[name])]
    if denied:
        raise PermissionDeniedError(
            f"You may not use the tool {denied[0]!r}.", field="enabled_tools", detail={"denied": denied}
        )
    return chosen
