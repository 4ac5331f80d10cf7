"""`GET /users/search`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app_api.dependencies import CurrentUser, StorageDep
from app_api.users import service
from app_api.users.schemas import UserSearchItem, UserSearchRead

__all__ = ["router"]

router = APIRouter(prefix="/users", tags=["users"])


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
