"""`/admin/quota/*` for administrators (the original's routes) and `/users/me/quota` for everyone."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from app_api.dependencies import AdminUser, CurrentPermissions, CurrentUser, StateDep, StorageDep
from app_api.quotas import service
from app_api.quotas.schemas import QuotaStatusRead, UserQuotaInfo
from chat_core.quotas import (
    QuotaAssignment,
    QuotaAssignmentCreate,
    QuotaAssignmentUpdate,
    QuotaEvent,
    QuotaEventType,
    QuotaOverride,
    QuotaOverrideCreate,
    QuotaOverrideUpdate,
    QuotaTier,
    QuotaTierCreate,
    QuotaTierUpdate,
)
from chat_http.errors import error_responses
from chat_http.quotas import QuotaCatalogueCache

__all__ = ["admin_router", "router"]

admin_router = APIRouter(prefix="/admin/quota", tags=["admin", "quota"], responses=error_responses(403))
router = APIRouter(prefix="/users", tags=["users", "quota"])


async def _quota_cache(state: StateDep) -> QuotaCatalogueCache:
    return state.quota_cache


QuotaCacheDep = Annotated[QuotaCatalogueCache, Depends(_quota_cache)]


@router.get("/me/quota", response_model=QuotaStatusRead)
async def read_my_quota(
    user: CurrentUser, permissions: CurrentPermissions, storage: StorageDep, cache: QuotaCacheDep
) -> QuotaStatusRead:
    """The caller's spend quota: tier, limits, usage in the binding period, what remains, when it resets."""
    return service.quota_status(await service.quota_check(storage, cache, user, permissions))


@admin_router.get("/tiers", response_model=list[QuotaTier])
async def read_tiers(admin: AdminUser, storage: StorageDep, enabled_only: bool = False) -> list[QuotaTier]:
    """Admin: every quota tier."""
    return await service.list_tiers(storage, enabled_only=enabled_only)


@admin_router.post(
    "/tiers", response_model=QuotaTier, status_code=status.HTTP_201_CREATED, responses=error_responses(409)
)
async def create_tier(
    body: QuotaTierCreate, admin: AdminUser, storage: StorageDep, cache: QuotaCacheDep
) -> QuotaTier:
    """Admin: add a tier; 409 when its id is taken."""
    return await service.create_tier(storage, cache, body, by=admin)


@admin_router.get("/tiers/{tier_id}", response_model=QuotaTier, responses=error_responses(404))
async def read_tier(tier_id: str, admin: AdminUser, storage: StorageDep) -> QuotaTier:
    """Admin: one tier."""
    return await service.get_tier(storage, tier_id)


@admin_router.patch("/tiers/{tier_id}", response_model=QuotaTier, responses=error_responses(404))
async def update_tier(
    tier_id: str, body: QuotaTierUpdate, admin: AdminUser, storage: StorageDep, cache: QuotaCacheDep
) -> QuotaTier:
    """Admin: change the fields sent."""
    return await service.update_tier(storage, cache, tier_id, body)


@admin_router.delete(
    "/tiers/{tier_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(404, 409),
)
async def delete_tier(tier_id: str, admin: AdminUser, storage: StorageDep, cache: QuotaCacheDep) -> Response:
    """Admin: remove a tier that no assignment uses."""
    await service.delete_tier(storage, cache, tier_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@admin_router.get("/assignments", response_model=list[QuotaAssignment])
async def read_assignments(
    admin: AdminUser,
    storage: StorageDep,
    enabled_only: bool = False,
    tier_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[QuotaAssignment]:
    """Admin: assignments, optionally of one tier."""
    return await service.list_assignments(storage, enabled_only=enabled_only, tier_id=tier_id)


@admin_router.post(
    "/assignments",
    response_model=QuotaAssignment,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(422),
)
async def create_assignment(
    body: QuotaAssignmentCreate, admin: AdminUser, storage: StorageDep, cache: QuotaCacheDep
) -> QuotaAssignment:
    """Admin: put the users one criterion selects into a tier."""
    return await service.create_assignment(storage, cache, body, by=admin)


@admin_router.get(
    "/assignments/{assignment_id}", response_model=QuotaAssignment, responses=error_responses(404)
)
async def read_assignment(assignment_id: str, admin: AdminUser, storage: StorageDep) -> QuotaAssignment:
    """Admin: one assignment."""
    return await service.get_assignment(storage, assignment_id)


@admin_router.patch(
    "/assignments/{assignment_id}", response_model=QuotaAssignment, responses=error_responses(404)
)
async def update_assignment(
    assignment_id: str,
    body: QuotaAssignmentUpdate,
    admin: AdminUser,
    storage: StorageDep,
    cache: QuotaCacheDep,
) -> QuotaAssignment:
    """Admin: change the tier, priority or whether it applies."""
    return await service.update_assignment(storage, cache, assignment_id, body)


@admin_router.delete(
    "/assignments/{assignment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(404),
)
async def delete_assignment(
    assignment_id: str, admin: AdminUser, storage: StorageDep, cache: QuotaCacheDep
) -> Response:
    """Admin: remove an assignment."""
    await service.delete_assignment(storage, cache, assignment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@admin_router.get("/overrides", response_model=list[QuotaOverride])
async def read_overrides(
    admin: AdminUser,
    storage: StorageDep,
    active_only: bool = False,
    user_id: Annotated[str | None, Query(max_length=128)] = None,
) -> list[QuotaOverride]:
    """Admin: overrides, latest ending first, optionally of one user or only those in force."""
    return await service.list_overrides(storage, user_id=user_id, active_only=active_only)


@admin_router.post("/overrides", response_model=QuotaOverride, status_code=status.HTTP_201_CREATED)
async def create_override(body: QuotaOverrideCreate, admin: AdminUser, storage: StorageDep) -> QuotaOverride:
    """Admin: give a user their own limit (or none) for a while; it applies to their next turn."""
    return await service.create_override(storage, body, by=admin)


@admin_router.get("/overrides/{override_id}", response_model=QuotaOverride, responses=error_responses(404))
async def read_override(override_id: str, admin: AdminUser, storage: StorageDep) -> QuotaOverride:
    """Admin: one override."""
    return await service.get_override(storage, override_id)


@admin_router.patch("/overrides/{override_id}", response_model=QuotaOverride, responses=error_responses(404))
async def update_override(
    override_id: str, body: QuotaOverrideUpdate, admin: AdminUser, storage: StorageDep
) -> QuotaOverride:
    """Admin: change its end, whether it applies, or its reason."""
    return await service.update_override(storage, override_id, body)


@admin_router.delete(
    "/overrides/{override_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(404),
)
async def delete_override(override_id: str, admin: AdminUser, storage: StorageDep) -> Response:
    """Admin: remove an override."""
    await service.delete_override(storage, override_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@admin_router.get("/events", response_model=list[QuotaEvent])
async def read_events(
    admin: AdminUser,
    storage: StorageDep,
    user_id: Annotated[str | None, Query(max_length=128)] = None,
    tier_id: Annotated[str | None, Query(max_length=64)] = None,
    event_type: QuotaEventType | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[QuotaEvent]:
    """Admin: quota events (warnings, blocks, overrides applied), newest first.

    `reset` is accepted as a filter, as the client offers it, but no event of that type is written:
    a new UTC day or month starts from zero without one, and nothing resets usage by hand.
    """
    return await service.list_events(
        storage, user_id=user_id, tier_id=tier_id, event_type=event_type, limit=limit
    )


@admin_router.get("/users/{user_id}", response_model=UserQuotaInfo, responses=error_responses(404))
async def inspect_user(
    user_id: str,
    admin: AdminUser,
    state: StateDep,
    email: Annotated[str | None, Query(max_length=254)] = None,
    roles: Annotated[str | None, Query(max_length=2000, description="Comma-separated JWT roles")] = None,
) -> UserQuotaInfo:
    """Admin: which tier applies to a user and why, their usage, what remains, recent blocks."""
    return await service.inspect_user(
        state.storage,
        state.quota_cache,
        state.role_cache,
        user_id,
        email=email,
        roles=[role.strip() for role in roles.split(",") if role.strip()] if roles is not None else None,
    )
