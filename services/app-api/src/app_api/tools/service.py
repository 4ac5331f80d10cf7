"""The tool catalogue: what each caller may use and has switched on, and its administration.

Who may use a tool is the AppRole rule of `chat_core.roles` (the same one inference-api applies to
`enabled_tools`); a grant lives on the AppRole (`grantedTools`), never on the tool, so `/{id}/roles`
changes roles. The catalogue only holds tools the platform runs (`chat_agent.tools.registry`): an
entry for anything else cannot be created, and `sync` marks entries whose tool is gone as deprecated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from app_api.roles import service as roles_service
from app_api.tools.schemas import (
    AdminToolRead,
    CatalogToolRead,
    LegacyCategory,
    OrphanedTool,
    SyncedTool,
    SyncRead,
    ToolPermissionsRead,
    ToolRoleRead,
    ToolRolesRead,
    UserToolRead,
    UserToolsRead,
)
from chat_agent.tools.registry import ToolRegistry
from chat_core.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from chat_core.identity import User
from chat_core.ids import UserId
from chat_core.ports import AppRoleRepository, ToolRepository
from chat_core.roles import WILDCARD, AppRole, UserPermissions, granted_by, tool_allowed
from chat_core.tools import (
    ToolCategory,
    ToolCreate,
    ToolDefinition,
    ToolPreferences,
    ToolProtocol,
    ToolStatus,
    ToolUpdate,
)
from chat_http.permissions import RoleCatalogueCache, ToolCatalogueCache

__all__ = [
    "add_tool_roles",
    "catalog",
    "create_tool",
    "delete_tool",
    "describe_permissions",
    "get_tool",
    "list_tools",
    "read_tool_roles",
    "remove_tool_roles",
    "save_preferences",
    "set_tool_roles",
    "sync_catalogue",
    "update_tool",
    "user_tools",
]

_SYNC_DEPRECATES = frozenset({ToolStatus.ACTIVE, ToolStatus.COMING_SOON})
_LEGACY_CATEGORIES: dict[ToolCategory, LegacyCategory] = {
    ToolCategory.SEARCH: "search",
    ToolCategory.RESEARCH: "search",
    ToolCategory.BROWSER: "browser",
    ToolCategory.DATA: "data",
    ToolCategory.VISUALIZATION: "data",
    ToolCategory.DOCUMENT: "data",
    ToolCategory.FINANCE: "data",
    ToolCategory.CODE: "code",
    ToolCategory.GATEWAY: "gateway",
    ToolCategory.UTILITY: "utilities",
    ToolCategory.CUSTOM: "utilities",
}
"""The catalogue's categories in the legacy catalogue's six (`GET /tools/catalog` speaks those)."""
_USER_FIELDS: set[str] = {
    "tool_id",
    "display_name",
    "description",
    "category",
    "icon",
    "protocol",
    "status",
    "requires_oauth_provider",
    "enabled_by_default",
}


def _not_found(tool_id: str) -> NotFoundError:
    return NotFoundError(f"Tool {tool_id!r} was not found.", field="toolId")


# --- what a caller sees ---------------------------------------------------------------------------


async def user_tools(
    tools: ToolRepository,
    offered: Mapping[str, ToolDefinition],
    permissions: UserPermissions,
    user_id: UserId,
) -> UserToolsRead:
    """The tools the caller may use, with their own on/off choice merged over the default."""
    choices = (await tools.get_preferences(user_id)).enabled
    usable = []
    for tool in offered.values():
        sources = granted_by(permissions, tool)
        if not sources:
            continue
        chosen = choices.get(tool.tool_id)
        usable.append(
            UserToolRead(
                **tool.model_dump(include=_USER_FIELDS),
                granted_by=sources,
                user_enabled=chosen,
                is_enabled=tool.enabled_by_default if chosen is None else chosen,
            )
        )
    usable.sort(key=lambda item: (item.category.value, item.display_name))
    return UserToolsRead(
        tools=usable,
        categories=sorted({item.category.value for item in usable}),
        app_roles_applied=permissions.app_roles,
    )


async def save_preferences(
    tools: ToolRepository,
    offered: Mapping[str, ToolDefinition],
    permissions: UserPermissions,
    user_id: UserId,
    preferences: Mapping[str, bool],
) -> dict[str, bool]:
    """Merge the caller's choices into their own preferences; every tool named must be one they may use.

    Raises:
        PermissionDeniedError: a tool the caller may not use (or that is not offered) is named (403).
    """
    denied = sorted(
        tool_id
        for tool_id in preferences
        if tool_id not in offered or not tool_allowed(permissions, offered[tool_id])
    )
    if denied:
        raise PermissionDeniedError(
            f"You may not use the tool {denied[0]!r}.", field="preferences", detail={"denied": denied}
        )
    saved = await tools.put_preferences(user_id, ToolPreferences(enabled=dict(preferences)))
    return saved.enabled


def catalog(offered: Mapping[str, ToolDefinition], category: LegacyCategory | None) -> list[CatalogToolRead]:
    """The entries role forms may grant (not disabled), by id, in the legacy catalogue's categories."""
    return [
        CatalogToolRead(
            tool_id=tool.tool_id,
            name=tool.display_name,
            description=tool.description,
            category=_LEGACY_CATEGORIES[tool.category],
            is_gateway_tool=tool.protocol == ToolProtocol.MCP,
            icon=tool.icon,
        )
        for tool in sorted(offered.values(), key=lambda entry: entry.tool_id)
        if tool.status != ToolStatus.DISABLED and category in (None, _LEGACY_CATEGORIES[tool.category])
    ]


def describe_permissions(user: User, permissions: UserPermissions) -> ToolPermissionsRead:
    """The tool grants of the caller's AppRoles."""
    return ToolPermissionsRead(
        user_id=user.user_id,
        allowed_tools=permissions.tools,
        has_wildcard=permissions.has_all_tools,
        app_roles=permissions.app_roles,
    )


# --- administration -------------------------------------------------------------------------------


def _direct_grants(tool_id: str, catalogue: Mapping[str, AppRole]) -> list[str]:
    return sorted(
        role.role_id
        for role in catalogue.values()
        if tool_id in role.granted_tools or WILDCARD in role.granted_tools
    )


def _admin_view(tool: ToolDefinition, catalogue: Mapping[str, AppRole]) -> AdminToolRead:
    return AdminToolRead.of(tool, _direct_grants(tool.tool_id, catalogue))


async def _existing(tools: ToolRepository, tool_id: str) -> ToolDefinition:
    found = await tools.get(tool_id)
    if found is None:
        raise _not_found(tool_id)
    return found


def _check_runnable(registry: ToolRegistry, tool_id: str, protocol: ToolProtocol) -> None:
    if tool_id not in registry.ids:
        raise InvalidInputError(
            f"{tool_id!r} is not a tool this platform runs; the catalogue only describes those.",
            field="toolId",
            detail={"available": sorted(registry.ids)},
        )
    if protocol != ToolProtocol.LOCAL:
        raise InvalidInputError(
            f"The tool {tool_id!r} runs in this platform: its protocol is 'local'.", field="protocol"
        )


async def list_tools(
    tools: ToolRepository, roles: AppRoleRepository, status: ToolStatus | None
) -> list[AdminToolRead]:
    """Every entry (of one status, when asked), by id, with the roles granting it."""
    catalogue = await roles_service.load_catalogue(roles)
    return [
        _admin_view(tool, catalogue) for tool in await tools.list() if status is None or tool.status == status
    ]


async def get_tool(tools: ToolRepository, roles: AppRoleRepository, tool_id: str) -> AdminToolRead:
    """One entry."""
    tool = await _existing(tools, tool_id)
    return _admin_view(tool, await roles_service.load_catalogue(roles))


async def create_tool(
    tools: ToolRepository,
    roles: AppRoleRepository,
    registry: ToolRegistry,
    cache: ToolCatalogueCache,
    request: ToolCreate,
    *,
    by: User,
) -> AdminToolRead:
    """Describe a tool the platform runs; 422 for any other id, 409 when already catalogued."""
    _check_runnable(registry, request.tool_id, request.protocol)
    entry = ToolDefinition.model_validate(
        request.model_dump() | {"created_by": by.user_id, "updated_by": by.user_id}
    )
    created = await tools.create(entry)
    cache.invalidate()
    return _admin_view(created, await roles_service.load_catalogue(roles))


async def update_tool(
    tools: ToolRepository,
    roles: AppRoleRepository,
    registry: ToolRegistry,
    cache: ToolCatalogueCache,
    tool_id: str,
    changes: ToolUpdate,
    *,
    by: User,
) -> AdminToolRead:
    """Apply the fields sent."""
    updated = (await _existing(tools, tool_id)).updated(changes, by=by.user_id)
    if updated.tool_id in registry.ids:
        _check_runnable(registry, updated.tool_id, updated.protocol)
    saved = await tools.put(updated)
    cache.invalidate()
    return _admin_view(saved, await roles_service.load_catalogue(roles))


async def delete_tool(
    tools: ToolRepository, cache: ToolCatalogueCache, tool_id: str, *, hard: bool, by: User
) -> None:
    """Disable the entry (users lose it at once), or with `hard` remove it from the catalogue.

    AppRoles keep their grant of the id: were the entry created again, the grant would apply again.
    """
    current = await _existing(tools, tool_id)
    if hard:
        await tools.delete(tool_id)
    else:
        await tools.put(current.updated(ToolUpdate(status=ToolStatus.DISABLED), by=by.user_id))
    cache.invalidate()


def _assignments(tool_id: str, catalogue: Mapping[str, AppRole]) -> list[ToolRoleRead]:
    found = []
    for role in sorted(catalogue.values(), key=lambda item: item.role_id):
        if tool_id in role.granted_tools or WILDCARD in role.granted_tools:
            found.append(
                ToolRoleRead(
                    role_id=role.role_id,
                    display_name=role.display_name,
                    grant_type="direct",
                    inherited_from=None,
                    enabled=role.enabled,
                )
            )
            continue
        parent = next(
            (
                parent_id
                for parent_id in role.inherits_from
                if parent_id in catalogue
                and (
                    tool_id in catalogue[parent_id].granted_tools
                    or WILDCARD in catalogue[parent_id].granted_tools
                )
            ),
            None,
        )
        if parent is not None:
            found.append(
                ToolRoleRead(
                    role_id=role.role_id,
                    display_name=role.display_name,
                    grant_type="inherited",
                    inherited_from=parent,
                    enabled=role.enabled,
                )
            )
    return found


async def read_tool_roles(tools: ToolRepository, roles: AppRoleRepository, tool_id: str) -> ToolRolesRead:
    """The AppRoles that grant the tool, directly or through a parent they inherit from."""
    await _existing(tools, tool_id)
    catalogue = await roles_service.load_catalogue(roles)
    return ToolRolesRead(tool_id=tool_id, roles=_assignments(tool_id, catalogue))


async def _change_grants(
    tools: ToolRepository,
    roles: AppRoleRepository,
    cache: RoleCatalogueCache,
    tool_id: str,
    *,
    grant: Iterable[str] = (),
    revoke: Iterable[str] = (),
    exactly: bool = False,
) -> ToolRolesRead:
    """Add the tool to `grant`'s `grantedTools` and take it out of `revoke`'s, in one atomic write.

    With `exactly`, every role granting it directly that is not in `grant` is revoked.

    Raises:
        NotFoundError: the tool, or one of the roles, does not exist.
        ConflictError: a role to revoke grants every tool (`*`): change that role itself.
    """
    await _existing(tools, tool_id)
    catalogue = await roles_service.load_catalogue(roles)
    grant = sorted(set(grant))
    if exactly:
        revoke = [role_id for role_id in _direct_grants(tool_id, catalogue) if role_id not in grant]
    revoke = sorted(set(revoke))
    missing = [role_id for role_id in (*grant, *revoke) if role_id not in catalogue]
    if missing:
        raise NotFoundError(f"Role {missing[0]!r} was not found.", field="appRoleIds")
    wildcard = [role_id for role_id in revoke if WILDCARD in catalogue[role_id].granted_tools]
    if wildcard:
        raise ConflictError(
            f"Role {wildcard[0]!r} grants every tool ('*'); change its grants on the role itself.",
            field="appRoleIds",
            detail={"grantsAll": wildcard},
        )
    changed: list[AppRole] = []
    for role_id in grant:
        role = catalogue[role_id]
        if tool_id not in role.granted_tools and WILDCARD not in role.granted_tools:
            changed.append(role.model_copy(update={"granted_tools": [*role.granted_tools, tool_id]}))
    for role_id in revoke:
        role = catalogue[role_id]
        if tool_id in role.granted_tools:
            kept = [name for name in role.granted_tools if name != tool_id]
            changed.append(role.model_copy(update={"granted_tools": kept}))
    if changed:
        saved = await roles_service.save_roles(roles, cache, changed, catalogue)
        catalogue |= {role.role_id: role for role in saved}
    return ToolRolesRead(tool_id=tool_id, roles=_assignments(tool_id, catalogue))


async def set_tool_roles(
    tools: ToolRepository,
    roles: AppRoleRepository,
    cache: RoleCatalogueCache,
    tool_id: str,
    role_ids: Sequence[str],
) -> ToolRolesRead:
    """Make exactly `role_ids` grant the tool directly (roles granting `*` must stay in the list)."""
    return await _change_grants(tools, roles, cache, tool_id, grant=role_ids, exactly=True)


async def add_tool_roles(
    tools: ToolRepository,
    roles: AppRoleRepository,
    cache: RoleCatalogueCache,
    tool_id: str,
    role_ids: Sequence[str],
) -> ToolRolesRead:
    """Make these roles grant the tool too."""
    return await _change_grants(tools, roles, cache, tool_id, grant=role_ids)


async def remove_tool_roles(
    tools: ToolRepository,
    roles: AppRoleRepository,
    cache: RoleCatalogueCache,
    tool_id: str,
    role_ids: Sequence[str],
) -> ToolRolesRead:
    """Take the tool out of these roles' grants (a grant inherited from a parent stays)."""
    return await _change_grants(tools, roles, cache, tool_id, revoke=role_ids)


async def sync_catalogue(
    tools: ToolRepository,
    registry: ToolRegistry,
    cache: ToolCatalogueCache | None,
    *,
    dry_run: bool,
    by: str | None,
    deprecate: bool = True,
) -> SyncRead:
    """Catalogue ← registry: add entries for registered tools, deprecate entries of tools gone.

    Entries that exist are left as administrators made them. Without `dry_run`, each change is its
    own write; running it again finishes an interrupted sync.
    """
    registered = {tool.tool_id: tool for tool in registry.registered()}
    entries = {tool.tool_id: tool for tool in await tools.list()}
    discovered = [
        SyncedTool(
            tool_id=tool.tool_id,
            display_name=tool.display_name,
            description=tool.description,
            category=tool.category,
            protocol=ToolProtocol.LOCAL,
        )
        for tool_id, tool in registered.items()
        if tool_id not in entries
    ]
    orphans = [entry for tool_id, entry in sorted(entries.items()) if tool_id not in registered]
    if not dry_run:
        for item in discovered:
            await tools.create(registered[item.tool_id].catalogue_entry(by=by))
        for entry in orphans if deprecate else ():
            if entry.status in _SYNC_DEPRECATES:
                await tools.put(entry.updated(ToolUpdate(status=ToolStatus.DEPRECATED), by=by or "sync"))
        if cache is not None and (discovered or orphans):
            cache.invalidate()
    return SyncRead(
        discovered=discovered,
        orphaned=[
            OrphanedTool(
                tool_id=entry.tool_id,
                action="mark_deprecated" if entry.status in _SYNC_DEPRECATES else "none",
            )
            for entry in orphans
        ],
        unchanged=sorted(set(entries) & set(registered)),
        dry_run=dry_run,
    )
