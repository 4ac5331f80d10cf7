"""People who have signed in: the share picker, the administrators' user pages, and `/users/me`."""

from __future__ import annotations

from app_api.quotas import service as quotas_service
from app_api.users.schemas import (
    CostSummaryRead,
    MeRead,
    PermissionsRead,
    ProfileRead,
    RecentEventRead,
    UserDetailRead,
)
from chat_core.clock import utc_now
from chat_core.costs import period_of
from chat_core.errors import NotFoundError
from chat_core.identity import User, UserProfile, UserStatus
from chat_core.ids import UserId, validate_id
from chat_core.pagination import Page
from chat_core.ports import UserRepository
from chat_core.roles import UserPermissions
from chat_http.permissions import RoleCatalogueCache
from chat_http.quotas import QuotaCatalogueCache
from chat_storage import Storage

_RECENT_EVENTS = 10

__all__ = ["describe_me", "describe_user", "find_by_email", "list_domains", "list_users", "search_users"]


async def search_users(users: UserRepository, query: str, *, limit: int) -> list[UserProfile]:
    """Profiles whose email or name starts with `query` (case-insensitive)."""
    return await users.search(query, limit=limit)


async def list_users(
    users: UserRepository, *, status: UserStatus | None, domain: str | None, limit: int, cursor: str | None
) -> Page[UserProfile]:
    """Profiles, most recent sign-in first."""
    return await users.list(status=status, domain=domain, limit=limit, cursor=cursor)


async def find_by_email(users: UserRepository, email: str) -> list[UserProfile]:
    """The profile with exactly this email (zero or one)."""
    found = await users.get_by_email(email)
    return [] if found is None else [found]


async def list_domains(users: UserRepository, *, limit: int) -> list[str]:
    """Email domains of known users."""
    return await users.domains(limit=limit)


async def describe_user(
    storage: Storage, role_cache: RoleCatalogueCache, quota_cache: QuotaCatalogueCache, user_id: str
) -> UserDetailRead:
    """A user's profile, this month's cost, quota status, recent quota events and effective permissions."""
    profile = await storage.users.get(UserId(validate_id(user_id, field="userId")))
    if profile is None:
        raise NotFoundError(f"User {user_id!r} was not found.", field="userId")
    subject = User(user_id=profile.user_id, email=profile.email, name=profile.name, roles=profile.roles)
    permissions = await role_cache.permissions(storage.roles, subject)
    summary = await storage.costs.summary(profile.user_id, period_of(utc_now()))
    check = await quotas_service.quota_check(storage, quota_cache, subject, permissions)
    events = await storage.quotas.list_events(user_id=profile.user_id, limit=_RECENT_EVENTS)
    return UserDetailRead(
        profile=ProfileRead.of(profile),
        cost_summary=CostSummaryRead.of(summary),
        quota_status=quotas_service.quota_status(check),
        recent_events=[RecentEventRead.of(event) for event in events],
        effective_permissions=PermissionsRead.of(permissions),
    )


async def describe_me(users: UserRepository, user: User, permissions: UserPermissions) -> MeRead:
    """The caller's profile (recorded on first sight) and what their AppRoles grant."""
    profile = await users.get(user.user_id) or UserProfile.of(user, at=utc_now())
    return MeRead(profile=ProfileRead.of(profile), effective_permissions=PermissionsRead.of(permissions))
