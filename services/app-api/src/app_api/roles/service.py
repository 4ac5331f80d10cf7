"""AppRole administration: create, change and delete roles, keeping stored effective permissions true.

Each role stores its effective permissions (its grants plus its parents'); a change to a role
recomputes them for the role and for every role that inherits from it, in one atomic write. The
process's role cache is invalidated after each change; other processes see it within the cache TTL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from chat_core.errors import BadRequestError, ConflictError, InvalidInputError, NotFoundError
from chat_core.identity import User
from chat_core.ids import ManagedModelId
from chat_core.managed_models import EVERYONE, ManagedModel, ManagedModelUpdate
from chat_core.ports import AppRoleRepository, ManagedModelRepository
from chat_core.roles import (
    WILDCARD,
    AppRole,
    AppRoleCreate,
    AppRoleUpdate,
    effective_permissions,
)
from chat_http.permissions import RoleCatalogueCache

__all__ = [
    "create_role",
    "delete_role",
    "get_role",
    "list_roles",
    "load_catalogue",
    "save_roles",
    "sync_model_roles",
    "sync_role",
    "update_role",
]


def _not_found(role_id: str) -> NotFoundError:
    return NotFoundError(f"Role {role_id!r} was not found.", field="roleId")


async def load_catalogue(roles: AppRoleRepository) -> dict[str, AppRole]:
    """Every role by id, read from the store (administration never works from a cached copy)."""
    return {role.role_id: role for role in await roles.list()}


def _check_parents(role: AppRole, catalogue: Mapping[str, AppRole]) -> None:
    for parent in role.inherits_from:
        if parent == role.role_id:
            raise InvalidInputError("A role cannot inherit from itself.", field="inheritsFrom")
        if parent not in catalogue:
            raise InvalidInputError(f"Role {parent!r} does not exist.", field="inheritsFrom")


def _with_effective(role: AppRole, catalogue: Mapping[str, AppRole]) -> AppRole:
    return role.model_copy(update={"effective_permissions": effective_permissions(role, catalogue)})


async def save_roles(
    roles: AppRoleRepository,
    cache: RoleCatalogueCache,
    changed: Sequence[AppRole],
    catalogue: Mapping[str, AppRole],
) -> list[AppRole]:
    """Store `changed` and refresh the effective permissions of every role inheriting from them.

    One atomic write holds the changed roles and their heirs, so a reader never sees a parent's new
    grants with a child's old effective permissions.
    """
    merged = dict(catalogue) | {role.role_id: role for role in changed}
    saved = [_with_effective(role, merged) for role in changed]
    merged |= {role.role_id: role for role in saved}
    changed_ids = {role.role_id for role in changed}
    heirs = [
        _with_effective(role, merged)
        for role in merged.values()
        if role.role_id not in changed_ids and not changed_ids.isdisjoint(role.inherits_from)
    ]
    await roles.put_many([*saved, *heirs])
    cache.invalidate()
    return saved


async def _save(
    roles: AppRoleRepository, cache: RoleCatalogueCache, changed: AppRole, catalogue: dict[str, AppRole]
) -> AppRole:
    """Store one role and refresh the effective permissions of every role inheriting from it."""
    (saved,) = await save_roles(roles, cache, [changed], catalogue)
    return saved


async def list_roles(roles: AppRoleRepository) -> list[AppRole]:
    """Every role, by id."""
    return await roles.list()


async def get_role(roles: AppRoleRepository, role_id: str) -> AppRole:
    """One role."""
    found = await roles.get(role_id)
    if found is None:
        raise _not_found(role_id)
    return found


async def create_role(
    roles: AppRoleRepository, cache: RoleCatalogueCache, request: AppRoleCreate, *, by: User
) -> AppRole:
    """Add a role; a taken id is a `ConflictError` (409), an unknown parent a 422."""
    catalogue = await load_catalogue(roles)
    role = AppRole.model_validate(request.model_dump() | {"created_by": by.user_id})
    _check_parents(role, catalogue)
    created = await roles.create(_with_effective(role, catalogue))
    cache.invalidate()
    return created


async def update_role(
    roles: AppRoleRepository, cache: RoleCatalogueCache, role_id: str, changes: AppRoleUpdate
) -> AppRole:
    """Apply the fields sent, then recompute effective permissions here and in inheriting roles."""
    catalogue = await load_catalogue(roles)
    current = catalogue.get(role_id)
    if current is None:
        raise _not_found(role_id)
    updated = current.updated(changes)
    _check_parents(updated, catalogue)
    return await _save(roles, cache, updated, catalogue)


async def sync_role(roles: AppRoleRepository, cache: RoleCatalogueCache, role_id: str) -> AppRole:
    """Recompute and store a role's effective permissions (after its parents changed elsewhere)."""
    catalogue = await load_catalogue(roles)
    current = catalogue.get(role_id)
    if current is None:
        raise _not_found(role_id)
    return await _save(roles, cache, current, catalogue)


async def delete_role(roles: AppRoleRepository, cache: RoleCatalogueCache, role_id: str) -> None:
    """Remove a role. System roles cannot be deleted; nor can a role others inherit from (409)."""
    catalogue = await load_catalogue(roles)
    current = catalogue.get(role_id)
    if current is None:
        raise _not_found(role_id)
    if current.is_system_role:
        raise BadRequestError(f"Role {role_id!r} is a system role and cannot be deleted.", field="roleId")
    heirs = sorted(role.role_id for role in catalogue.values() if role_id in role.inherits_from)
    if heirs:
        raise ConflictError(
            f"Role {role_id!r} cannot be deleted while other roles inherit from it.",
            field="roleId",
            detail={"inheritedBy": heirs},
        )
    await roles.delete(role_id)
    cache.invalidate()


async def sync_model_roles(
    roles: AppRoleRepository, models: ManagedModelRepository, model_uuid: ManagedModelId
) -> ManagedModel:
    """Set a managed model's `allowedAppRoles` to the roles that grant it (by id or `*`).

    Entries that name no role (`*`, and JWT role names from before AppRoles) are kept.
    """
    model = await models.get(model_uuid)
    if model is None:
        raise NotFoundError(f"Managed model {model_uuid!r} was not found.")
    catalogue = await load_catalogue(roles)
    granting = sorted(
        role.role_id
        for role in catalogue.values()
        if role.enabled
        and (
            WILDCARD in role.effective_permissions.models
            or model.model_id in role.effective_permissions.models
        )
    )
    kept = [name for name in model.allowed_app_roles if name == EVERYONE or name not in catalogue]
    updated = await models.update(model_uuid, ManagedModelUpdate(allowed_app_roles=[*kept, *granting]))
    if updated is None:
        raise NotFoundError(f"Managed model {model_uuid!r} was not found.")
    return updated
