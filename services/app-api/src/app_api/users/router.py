"""`GET /users/search` and `/users/me` for everyone; `/admin/users` for administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app_api.dependencies import AdminUser, CurrentPermissions, CurrentUser, StateDep, StorageDep
from app_api.users import service
from app_api.users.schemas import (
    MeRead,
    UserDetailRead,
    UserListItem,
    UserListRead,
    UserSearchItem,
    UserSearchRead,
)
from chat_core.identity import UserStatus
from chat_http.errors import error_responses

__all__ = ["admin_router", "router"]

router = APIRouter(prefix="/users", tags=["users"])
admin_router = APIRouter(prefix="/admin/users", tags=["admin", "users"], responses=error_responses(403))


@router.get("/search", response_model=UserSearchRead)
async def search_users(
    user: CurrentUser,
    storage: StorageDep,
    q: Annotated[str, Query(min_length=1, max_length=200, pattern=r"\S")],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> UserSearchRead:
    """People who have signed in whose email or name starts with `q`."""
    profiles = await service.search_users(storage.users, q, limit=limit)
    return UserSearchRead(users=[UserSearchItem.of(profile) for profile in profiles])


@router.get("/me", response_model=MeRead)
async def read_me(user: CurrentUser, permissions: CurrentPermissions, storage: StorageDep) -> MeRead:
    """The caller's profile and the tools, models and quota tier their AppRoles grant."""
    return await service.describe_me(storage.users, user, permissions)


@admin_router.get("", response_model=UserListRead)
async def read_users(
    admin: AdminUser,
    storage: StorageDep,
    status: UserStatus | None = None,
    domain: Annotated[str | None, Query(min_length=1, max_length=253)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> UserListRead:
    """Admin: people who have signed in, most recent first."""
    page = await service.list_users(storage.users, status=status, domain=domain, limit=limit, cursor=cursor)
    return UserListRead(
        users=[UserListItem.of(profile) for profile in page.items], next_cursor=page.next_cursor
    )


@admin_router.get("/search", response_model=UserListRead)
async def find_user_by_email(
    admin: AdminUser, storage: StorageDep, email: Annotated[str, Query(min_length=3, max_length=254)]
) -> UserListRead:
    """Admin: the user with exactly this email, if any."""
    found = await service.find_by_email(storage.users, email)
    return UserListRead(users=[UserListItem.of(profile) for profile in found])


@admin_router.get("/domains/list", response_model=list[str])
async def read_domains(
    admin: AdminUser, storage: StorageDep, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> list[str]:
    """Admin: email domains of known users."""
    return await service.list_domains(storage.users, limit=limit)


@admin_router.get("/{user_id}", response_model=UserDetailRead, responses=error_responses(404))
async def read_user(user_id: str, admin: AdminUser, state: StateDep) -> UserDetailRead:
    """Admin: one user, with this month's cost, quota tier and effective permissions."""
    return await service.describe_user(state.storage, state.role_cache, state.quota_cache, user_id)
