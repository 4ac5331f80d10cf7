"""Quota administration (tiers, assignments, overrides, events) and a user's quota status.

Every change invalidates this process's quota catalogue; inference-api sees it within
`CHAT_QUOTA_CACHE_SECONDS` (overrides at once: they are read per turn).
"""

from __future__ import annotations

import uuid

from app_api.quotas.schemas import QuotaStatusRead, UserQuotaInfo
from chat_core.clock import utc_now
from chat_core.errors import ConflictError, InvalidInputError, NotFoundError
from chat_core.identity import User
from chat_core.ids import UserId, validate_id
from chat_core.quotas import (
    PeriodType,
    QuotaAssignment,
    QuotaAssignmentCreate,
    QuotaAssignmentUpdate,
    QuotaCheck,
    QuotaEvent,
    QuotaEventType,
    QuotaOverride,
    QuotaOverrideCreate,
    QuotaOverrideUpdate,
    QuotaTier,
    QuotaTierCreate,
    QuotaTierUpdate,
    check_quota,
)
from chat_core.roles import UserPermissions
from chat_http.permissions import RoleCatalogueCache
from chat_http.quotas import QuotaCatalogueCache, resolve_user_quota
from chat_storage import Storage

__all__ = [
    "create_assignment",
    "create_override",
    "create_tier",
    "delete_assignment",
    "delete_override",
    "delete_tier",
    "get_assignment",
    "get_override",
    "get_tier",
    "inspect_user",
    "list_assignments",
    "list_events",
    "list_overrides",
    "list_tiers",
    "quota_check",
    "quota_status",
    "update_assignment",
    "update_override",
    "update_tier",
]

_RECENT_EVENTS = 50


def _by(admin: User) -> str:
    return admin.email or admin.user_id


# --- tiers -----------------------------------------------------------------------------------------


async def list_tiers(storage: Storage, *, enabled_only: bool) -> list[QuotaTier]:
    """Every tier (or the enabled ones), by id."""
    return [tier for tier in await storage.quotas.list_tiers() if tier.enabled or not enabled_only]


async def get_tier(storage: Storage, tier_id: str) -> QuotaTier:
    """One tier; 404 when missing."""
    found = await storage.quotas.get_tier(validate_id(tier_id, field="tierId"))
    if found is None:
        raise NotFoundError(f"Tier {tier_id!r} was not found.", field="tierId")
    return found


async def create_tier(
    storage: Storage, cache: QuotaCatalogueCache, body: QuotaTierCreate, *, by: User
) -> QuotaTier:
    """Add a tier; 409 when its id is taken."""
    tier = QuotaTier.model_validate(body.model_dump() | {"created_by": _by(by)})
    await storage.quotas.create_tier(tier)
    cache.invalidate()
    return tier


async def update_tier(
    storage: Storage, cache: QuotaCatalogueCache, tier_id: str, changes: QuotaTierUpdate
) -> QuotaTier:
    """Apply the fields sent."""
    updated = (await get_tier(storage, tier_id)).updated(changes)
    await storage.quotas.put_tier(updated)
    cache.invalidate()
    return updated


async def delete_tier(storage: Storage, cache: QuotaCatalogueCache, tier_id: str) -> None:
    """Remove a tier no assignment uses; 404 when missing, 409 while assigned."""
    await get_tier(storage, tier_id)
    users = [
        item.assignment_id for item in await storage.quotas.list_assignments() if item.tier_id == tier_id
    ]
    if users:
        raise ConflictError(
            f"Tier {tier_id!r} is used by {len(users)} assignment(s); remove them first.",
            field="tierId",
            detail={"assignmentIds": users},
        )
    await storage.quotas.delete_tier(tier_id)
    cache.invalidate()


# --- assignments ----------------------------------------------------------------------------------


async def _require_tier(storage: Storage, tier_id: str) -> None:
    if await storage.quotas.get_tier(tier_id) is None:
        raise InvalidInputError(f"Tier {tier_id!r} does not exist.", field="tierId")


async def list_assignments(
    storage: Storage, *, enabled_only: bool, tier_id: str | None
) -> list[QuotaAssignment]:
    """Assignments, optionally only enabled ones or those of one tier."""
    return [
        item
        for item in await storage.quotas.list_assignments()
        if (item.enabled or not enabled_only) and (tier_id is None or item.tier_id == tier_id)
    ]


async def get_assignment(storage: Storage, assignment_id: str) -> QuotaAssignment:
    """One assignment; 404 when missing."""
    found = await storage.quotas.get_assignment(validate_id(assignment_id, field="assignmentId"))
    if found is None:
        raise NotFoundError(f"Assignment {assignment_id!r} was not found.", field="assignmentId")
    return found


async def create_assignment(
    storage: Storage, cache: QuotaCatalogueCache, body: QuotaAssignmentCreate, *, by: User
) -> QuotaAssignment:
    """Add an assignment to an existing tier (422 naming `tierId` otherwise)."""
    await _require_tier(storage, body.tier_id)
    assignment = QuotaAssignment.model_validate(
        body.model_dump() | {"assignment_id": f"qa-{uuid.uuid4().hex[:16]}", "created_by": _by(by)}
    )
    await storage.quotas.put_assignment(assignment)
    cache.invalidate()
    return assignment


async def update_assignment(
    storage: Storage, cache: QuotaCatalogueCache, assignment_id: str, changes: QuotaAssignmentUpdate
) -> QuotaAssignment:
    """Apply the fields sent (a new tier must exist)."""
    current = await get_assignment(storage, assignment_id)
    if changes.tier_id is not None:
        await _require_tier(storage, changes.tier_id)
    updated = current.updated(changes)
    await storage.quotas.put_assignment(updated)
    cache.invalidate()
    return updated


async def delete_assignment(storage: Storage, cache: QuotaCatalogueCache, assignment_id: str) -> None:
    """Remove an assignment; 404 when missing."""
    if not await storage.quotas.delete_assignment(validate_id(assignment_id, field="assignmentId")):
        raise NotFoundError(f"Assignment {assignment_id!r} was not found.", field="assignmentId")
    cache.invalidate()


# --- overrides ------------------------------------------------------------------------------------


async def list_overrides(storage: Storage, *, user_id: str | None, active_only: bool) -> list[QuotaOverride]:
    """Overrides (of one user), latest ending first; `active_only` keeps those in force now."""
    user = UserId(validate_id(user_id, field="user_id")) if user_id is not None else None
    found = await storage.quotas.list_overrides(user_id=user)
    now = utc_now()
    return [item for item in found if item.active(now) or not active_only]


async def get_override(storage: Storage, override_id: str) -> QuotaOverride:
    """One override; 404 when missing."""
    found = await storage.quotas.get_override(validate_id(override_id, field="overrideId"))
    if found is None:
        raise NotFoundError(f"Override {override_id!r} was not found.", field="overrideId")
    return found


async def create_override(storage: Storage, body: QuotaOverrideCreate, *, by: User) -> QuotaOverride:
    """Add an override (and an `override_applied` event)."""
    validate_id(body.user_id, field="userId")
    override = QuotaOverride.model_validate(
        body.model_dump() | {"override_id": f"qo-{uuid.uuid4().hex[:16]}", "created_by": _by(by)}
    )
    await storage.quotas.put_override(override)
    await storage.quotas.record_event(
        QuotaEvent(
            event_id=f"qe-{uuid.uuid4().hex}",
            user_id=override.user_id,
            tier_id="override",
            event_type=QuotaEventType.OVERRIDE_APPLIED,
            current_usage=0.0,
            quota_limit=override.monthly_cost_limit or 0.0,
            percentage_used=0.0,
            metadata={
                "overrideId": override.override_id,
                "overrideType": override.override_type.value,
                "validUntil": override.valid_until.isoformat(),
                "reason": override.reason,
                "createdBy": override.created_by,
            },
        )
    )
    return override


async def update_override(storage: Storage, override_id: str, changes: QuotaOverrideUpdate) -> QuotaOverride:
    """Apply the fields sent (`validUntil` must stay after `validFrom`)."""
    updated = (await get_override(storage, override_id)).updated(changes)
    await storage.quotas.put_override(updated)
    return updated


async def delete_override(storage: Storage, override_id: str) -> None:
    """Remove an override; 404 when missing."""
    if not await storage.quotas.delete_override(validate_id(override_id, field="overrideId")):
        raise NotFoundError(f"Override {override_id!r} was not found.", field="overrideId")


# --- events and status ------------------------------------------------------------------------------


async def list_events(
    storage: Storage,
    *,
    user_id: str | None,
    tier_id: str | None,
    event_type: QuotaEventType | None,
    limit: int,
) -> list[QuotaEvent]:
    """Events, newest first."""
    return await storage.quotas.list_events(
        user_id=UserId(validate_id(user_id, field="user_id")) if user_id is not None else None,
        tier_id=validate_id(tier_id, field="tier_id") if tier_id is not None else None,
        event_type=event_type,
        limit=limit,
    )


async def quota_check(
    storage: Storage, cache: QuotaCatalogueCache, user: User, permissions: UserPermissions
) -> QuotaCheck:
    """Where `user` stands now against the quota that applies to them."""
    at = utc_now()
    resolved = await resolve_user_quota(storage.quotas, cache, user, permissions, at=at)
    return check_quota(resolved, await storage.usage.usage(user.user_id, at=at), at=at)


def quota_status(check: QuotaCheck) -> QuotaStatusRead:
    """The short status the user pages show."""
    resolved = check.resolved
    limits = resolved.limits
    return QuotaStatusRead(
        tier_id=resolved.tier.tier_id if resolved.tier is not None else None,
        tier_name=resolved.tier.tier_name if resolved.tier is not None else None,
        matched_by=resolved.matched_by,
        period_type=check.period_type.value,
        monthly_limit=limits.monthly,
        daily_limit=limits.daily,
        current_usage=check.current_usage,
        usage_percentage=round(check.percentage_used, 2),
        remaining=check.remaining,
        warning_level=check.warning_level,
        resets_at=check.resets_at,
        has_active_override=resolved.override is not None,
        override_reason=resolved.override.reason if resolved.override is not None else None,
    )


async def inspect_user(
    storage: Storage,
    cache: QuotaCatalogueCache,
    role_cache: RoleCatalogueCache,
    user_id: str,
    *,
    email: str | None,
    roles: list[str] | None,
) -> UserQuotaInfo:
    """The inspector: a user's resolved quota (from their profile, or the email and roles given)."""
    known = await storage.users.get(UserId(validate_id(user_id, field="userId")))
    subject = User(
        user_id=UserId(user_id),
        email=(email or (known.email if known else "")).lower(),
        roles=roles if roles is not None else (known.roles if known else []),
    )
    permissions = await role_cache.permissions(storage.roles, subject)
    check = await quota_check(storage, cache, subject, permissions)
    blocks = await storage.quotas.list_events(
        user_id=subject.user_id, event_type=QuotaEventType.BLOCK, limit=_RECENT_EVENTS
    )
    resolved = check.resolved
    now = utc_now()
    daily = check.period_type is PeriodType.DAILY
    return UserQuotaInfo(
        user_id=subject.user_id,
        email=subject.email,
        roles=subject.roles,
        tier=resolved.tier,
        assignment=resolved.assignment,
        override=resolved.override,
        matched_by=resolved.matched_by,
        current_period=now.date().isoformat() if daily else now.strftime("%Y-%m"),
        period_type=check.period_type.value,
        current_usage=check.current_usage,
        reserved=check.reserved,
        quota_limit=check.quota_limit,
        percentage_used=round(check.percentage_used, 2),
        remaining=check.remaining,
        warning_level=check.warning_level,
        resets_at=check.resets_at,
        recent_blocks=len(blocks),
        last_block_time=blocks[0].timestamp if blocks else None,
    )
