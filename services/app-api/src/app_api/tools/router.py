"""`/tools` for everyone (their tools, preferences, the catalogue, their grants) and `/admin/tools`.

Reading and editing catalogue entries needs an administrator; changing which AppRoles grant a tool
changes AppRoles, so it needs a system administrator, as `/admin/roles` does. The frontend calls
`/tools/` and `/admin/tools/` with a trailing slash: both spellings are routes (no redirects).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from app_api.dependencies import (
    AdminUser,
    CurrentPermissions,
    CurrentUser,
    StateDep,
    StorageDep,
    SystemAdminUser,
)
from app_api.tools import service
from app_api.tools.schemas import (
    AdminToolPage,
    AdminToolRead,
    CatalogPage,
    LegacyCategory,
    SyncRead,
    ToolPermissionsRead,
    ToolPreferencesRead,
    ToolPreferencesUpdate,
    ToolRolesRead,
    ToolRolesUpdate,
    UserToolsRead,
)
from chat_agent.tools.registry import ToolRegistry
from chat_core.tools import ToolCreate, ToolStatus, ToolUpdate
from chat_http.dependencies import OfferedTools
from chat_http.errors import error_responses
from chat_http.permissions import RoleCatalogueCache, ToolCatalogueCache

__all__ = ["admin_router", "router"]

router = APIRouter(prefix="/tools", tags=["tools"])
admin_router = APIRouter(prefix="/admin/tools", tags=["admin", "tools"], responses=error_responses(403))


async def _tool_cache(state: StateDep) -> ToolCatalogueCache:
    return state.tool_cache


async def _role_cache(state: StateDep) -> RoleCatalogueCache:
    return state.role_cache


async def _registry(state: StateDep) -> ToolRegistry:
    return state.tool_registry


ToolCacheDep = Annotated[ToolCatalogueCache, Depends(_tool_cache)]
RoleCacheDep = Annotated[RoleCatalogueCache, Depends(_role_cache)]
RegistryDep = Annotated[ToolRegistry, Depends(_registry)]
_ToolId = Annotated[str, Path(min_length=1, max_length=128)]


@router.get("/", response_model=UserToolsRead)
@router.get("", response_model=UserToolsRead, include_in_schema=False)
async def read_my_tools(
    user: CurrentUser, permissions: CurrentPermissions, offered: OfferedTools, storage: StorageDep
) -> UserToolsRead:
    """The tools the caller's AppRoles (or `isPublic`) allow, each with whether it is switched on."""
    return await service.user_tools(storage.tools, offered, permissions, user.user_id)


@router.put("/preferences", response_model=ToolPreferencesRead, responses=error_responses(403))
async def update_tool_preferences(
    body: ToolPreferencesUpdate,
    user: CurrentUser,
    permissions: CurrentPermissions,
    offered: OfferedTools,
    storage: StorageDep,
) -> ToolPreferencesRead:
    """Switch the caller's tools on or off (only tools they may use; 403 otherwise)."""
    saved = await service.save_preferences(
        storage.tools, offered, permissions, user.user_id, body.preferences
    )
    return ToolPreferencesRead(message="Preferences saved successfully", preferences=saved)


@router.get("/catalog", response_model=CatalogPage)
async def read_catalog(
    user: CurrentUser, offered: OfferedTools, category: LegacyCategory | None = None
) -> CatalogPage:
    """The catalogue's tools (not disabled), as role forms list them, in the legacy categories."""
    tools = service.catalog(offered, category)
    return CatalogPage(tools=tools, total=len(tools))


@router.get("/my-permissions", response_model=ToolPermissionsRead)
async def read_my_tool_permissions(user: CurrentUser, permissions: CurrentPermissions) -> ToolPermissionsRead:
    """The tool grants of the caller's AppRoles (`*` = every tool)."""
    return service.describe_permissions(user, permissions)


@admin_router.get("/", response_model=AdminToolPage)
@admin_router.get("", response_model=AdminToolPage, include_in_schema=False)
async def read_tools(
    admin: AdminUser, storage: StorageDep, status: ToolStatus | None = None
) -> AdminToolPage:
    """Admin: every catalogue entry (of one status, when asked) with the roles granting it."""
    tools = await service.list_tools(storage.tools, storage.roles, status)
    return AdminToolPage(tools=tools, total=len(tools))


@admin_router.post(
    "/",
    response_model=AdminToolRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409),
)
@admin_router.post(
    "", response_model=AdminToolRead, status_code=status.HTTP_201_CREATED, include_in_schema=False
)
async def create_tool(
    body: ToolCreate, admin: AdminUser, storage: StorageDep, registry: RegistryDep, cache: ToolCacheDep
) -> AdminToolRead:
    """Admin: catalogue a tool the platform runs (422 for any other id; 409 when catalogued)."""
    return await service.create_tool(storage.tools, storage.roles, registry, cache, body, by=admin)


@admin_router.post("/sync", response_model=SyncRead)
async def sync_tools(
    admin: AdminUser,
    storage: StorageDep,
    registry: RegistryDep,
    cache: ToolCacheDep,
    dry_run: bool = True,
) -> SyncRead:
    """Admin: catalogue ← the tools the platform runs (`dry_run`, the default, changes nothing)."""
    return await service.sync_catalogue(storage.tools, registry, cache, dry_run=dry_run, by=admin.user_id)


@admin_router.get("/{tool_id}", response_model=AdminToolRead, responses=error_responses(404))
async def read_tool(tool_id: _ToolId, admin: AdminUser, storage: StorageDep) -> AdminToolRead:
    """Admin: one entry."""
    return await service.get_tool(storage.tools, storage.roles, tool_id)


@admin_router.put("/{tool_id}", response_model=AdminToolRead, responses=error_responses(404))
async def update_tool(
    tool_id: _ToolId,
    body: ToolUpdate,
    admin: AdminUser,
    storage: StorageDep,
    registry: RegistryDep,
    cache: ToolCacheDep,
) -> AdminToolRead:
    """Admin: change the fields sent."""
    return await service.update_tool(storage.tools, storage.roles, registry, cache, tool_id, body, by=admin)


@admin_router.delete(
    "/{tool_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(404),
)
async def delete_tool(
    tool_id: _ToolId,
    admin: AdminUser,
    storage: StorageDep,
    cache: ToolCacheDep,
    hard: Annotated[bool, Query(description="Remove the entry instead of disabling it")] = False,
) -> Response:
    """Admin: disable the entry (or remove it with `hard=true`)."""
    await service.delete_tool(storage.tools, cache, tool_id, hard=hard, by=admin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@admin_router.get("/{tool_id}/roles", response_model=ToolRolesRead, responses=error_responses(404))
async def read_tool_roles(tool_id: _ToolId, admin: AdminUser, storage: StorageDep) -> ToolRolesRead:
    """Admin: the AppRoles granting the tool, directly or inherited."""
    return await service.read_tool_roles(storage.tools, storage.roles, tool_id)


@admin_router.put("/{tool_id}/roles", response_model=ToolRolesRead, responses=error_responses(404, 409))
async def set_tool_roles(
    tool_id: _ToolId, body: ToolRolesUpdate, admin: SystemAdminUser, storage: StorageDep, cache: RoleCacheDep
) -> ToolRolesRead:
    """System admin: exactly these AppRoles grant the tool directly."""
    return await service.set_tool_roles(storage.tools, storage.roles, cache, tool_id, body.app_role_ids)


@admin_router.post("/{tool_id}/roles/add", response_model=ToolRolesRead, responses=error_responses(404))
async def add_tool_roles(
    tool_id: _ToolId, body: ToolRolesUpdate, admin: SystemAdminUser, storage: StorageDep, cache: RoleCacheDep
) -> ToolRolesRead:
    """System admin: these AppRoles grant the tool too."""
    return await service.add_tool_roles(storage.tools, storage.roles, cache, tool_id, body.app_role_ids)


@admin_router.post(
    "/{tool_id}/roles/remove", response_model=ToolRolesRead, responses=error_responses(404, 409)
)
async def remove_tool_roles(
    tool_id: _ToolId, body: ToolRolesUpdate, admin: SystemAdminUser, storage: StorageDep, cache: RoleCacheDep
) -> ToolRolesRead:
    """System admin: these AppRoles no longer grant the tool."""
    return await service.remove_tool_roles(storage.tools, storage.roles, cache, tool_id, body.app_role_ids)
