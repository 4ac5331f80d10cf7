"""`/admin/roles`: reading needs an administrator, changing needs a system administrator."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from app_api.dependencies import AdminUser, StateDep, StorageDep, SystemAdminUser
from app_api.roles import service
from app_api.roles.schemas import AppRolePage
from chat_core.roles import AppRole, AppRoleCreate, AppRoleUpdate
from chat_http.errors import error_responses
from chat_http.permissions import CacheStats, RoleCatalogueCache

__all__ = ["router"]

router = APIRouter(prefix="/admin/roles", tags=["admin", "roles"], responses=error_responses(403))


async def _role_cache(state: StateDep) -> RoleCatalogueCache:
    return state.role_cache


RoleCacheDep = Annotated[RoleCatalogueCache, Depends(_role_cache)]


@router.get("/", response_model=AppRolePage)
@router.get("", response_model=AppRolePage, include_in_schema=False)
async def read_roles(admin: AdminUser, storage: StorageDep) -> AppRolePage:
    """Admin: every AppRole."""
    roles = await service.list_roles(storage.roles)
    return AppRolePage(roles=roles, total=len(roles))


@router.post("/", response_model=AppRole, status_code=status.HTTP_201_CREATED, responses=error_responses(409))
@router.post("", response_model=AppRole, status_code=status.HTTP_201_CREATED, include_in_schema=False)
async def create_role(
    body: AppRoleCreate, admin: SystemAdminUser, storage: StorageDep, cache: RoleCacheDep
) -> AppRole:
    """System admin: add a role; 409 when its id is taken."""
    return await service.create_role(storage.roles, cache, body, by=admin)


@router.get("/cache/stats", response_model=CacheStats)
async def read_cache_stats(admin: SystemAdminUser, cache: RoleCacheDep) -> CacheStats:
    """System admin: this process's AppRole cache."""
    return cache.stats()


@router.post("/cache/invalidate", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def invalidate_cache(admin: SystemAdminUser, state: StateDep) -> Response:
    """System admin: reload the AppRole and tool catalogues on the next request (this process)."""
    state.role_cache.invalidate()
    state.tool_cache.invalidate()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{role_id}", response_model=AppRole, responses=error_responses(404))
async def read_role(role_id: str, admin: AdminUser, storage: StorageDep) -> AppRole:
    """Admin: one role."""
    return await service.get_role(storage.roles, role_id)


@router.patch("/{role_id}", response_model=AppRole, responses=error_responses(404))
async def update_role(
    role_id: str, body: AppRoleUpdate, admin: SystemAdminUser, storage: StorageDep, cache: RoleCacheDep
) -> AppRole:
    """System admin: change the fields sent."""
    return await service.update_role(storage.roles, cache, role_id, body)


@router.delete(
    "/{role_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(400, 404, 409),
)
async def delete_role(
    role_id: str, admin: SystemAdminUser, storage: StorageDep, cache: RoleCacheDep
) -> Response:
    """System admin: remove a role (not a system role, not one others inherit from)."""
    await service.delete_role(storage.roles, cache, role_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{role_id}/sync", response_model=AppRole, responses=error_responses(404))
async def sync_role(
    role_id: str, admin: SystemAdminUser, storage: StorageDep, cache: RoleCacheDep
) -> AppRole:
    """System admin: recompute a role's effective permissions."""
    return await service.sync_role(storage.roles, cache, role_id)
