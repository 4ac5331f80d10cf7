"""HTTP shapes of `/users/search` (the original's names)."""

from __future__ import annotations

from datetime import datetime

from app_api.quotas.schemas import QuotaStatusRead
from app_api.schemas import ApiModel
from chat_core.costs import UserCostSummary
from chat_core.identity import UserProfile, UserStatus
from chat_core.quotas import QuotaEvent, QuotaEventType
from chat_core.roles import UserPermissions

__all__ = [
    "CostSummaryRead",
    "MeRead",
    "PermissionsRead",
    "ProfileRead",
    "RecentEventRead",
    "UserDetailRead",
    "UserListItem",
    "UserListRead",
    "UserSearchItem",
    "UserSearchRead",
]


class UserSearchItem(ApiModel):
    """`UserSearchResult`."""

    user_id: str
    email: str
    name: str

    @classmethod
    def of(cls, profile: UserProfile) -> UserSearchItem:
        """What the picker shows about a person."""
        return cls(user_id=profile.user_id, email=profile.email, name=profile.name)


class UserSearchRead(ApiModel):
    """`UserSearchResponse`."""

    users: list[UserSearchItem]


class ProfileRead(ApiModel):
    """`UserProfile` of the admin user pages."""

    user_id: str
    email: str
    name: str
    roles: list[str]
    picture: str | None = None
    email_domain: str
    created_at: datetime
    last_login_at: datetime | None
    status: UserStatus

    @classmethod
    def of(cls, profile: UserProfile) -> ProfileRead:
        """The stored profile as the pages read it."""
        return cls(
            user_id=profile.user_id,
            email=profile.email,
            name=profile.name,
            roles=profile.roles,
            email_domain=profile.email_domain,
            created_at=profile.first_seen_at,
            last_login_at=profile.last_login_at,
            status=profile.status,
        )


class UserListItem(ApiModel):
    """`UserListItem`."""

    user_id: str
    email: str
    name: str
    status: UserStatus
    last_login_at: datetime | None
    email_domain: str | None = None

    @classmethod
    def of(cls, profile: UserProfile) -> UserListItem:
        """One row of the admin users list."""
        return cls(
            user_id=profile.user_id,
            email=profile.email,
            name=profile.name,
            status=profile.status,
            last_login_at=profile.last_login_at,
            email_domain=profile.email_domain or None,
        )


class UserListRead(ApiModel):
    """`UserListResponse`."""

    users: list[UserListItem]
    next_cursor: str | None = None


class CostSummaryRead(ApiModel):
    """This month's spending of a user (`UserDetailResponse.costSummary`)."""

    total_cost: float
    total_requests: int
    total_input_tokens: int
    total_output_tokens: int
    cache_savings: float
    primary_model: str | None = None

    @classmethod
    def of(cls, summary: UserCostSummary) -> CostSummaryRead:
        """The month's totals and the model most spent on."""
        primary = max(summary.models, key=lambda model: model.cost_breakdown.total_cost, default=None)
        return cls(
            total_cost=summary.total_cost,
            total_requests=summary.total_requests,
            total_input_tokens=summary.total_input_tokens,
            total_output_tokens=summary.total_output_tokens,
            cache_savings=summary.total_cache_savings,
            primary_model=primary.model_name if primary else None,
        )


class RecentEventRead(ApiModel):
    """One of a user's latest quota events (`UserDetailResponse.recentEvents`)."""

    event_id: str
    event_type: QuotaEventType
    timestamp: datetime
    percentage_used: float

    @classmethod
    def of(cls, event: QuotaEvent) -> RecentEventRead:
        """The fields the user page shows."""
        return cls(
            event_id=event.event_id,
            event_type=event.event_type,
            timestamp=event.timestamp,
            percentage_used=event.percentage_used,
        )


class PermissionsRead(ApiModel):
    """What a user's AppRoles grant."""

    app_roles: list[str]
    tools: list[str]
    models: list[str]
    quota_tier: str | None

    @classmethod
    def of(cls, permissions: UserPermissions) -> PermissionsRead:
        """The resolved permissions."""
        return cls(
            app_roles=permissions.app_roles,
            tools=permissions.tools,
            models=permissions.models,
            quota_tier=permissions.quota_tier,
        )


class UserDetailRead(ApiModel):
    """`UserDetailResponse`, plus the user's effective permissions."""

    profile: ProfileRead
    cost_summary: CostSummaryRead
    quota_status: QuotaStatusRead
    recent_events: list[RecentEventRead]
    effective_permissions: PermissionsRead


class MeRead(ApiModel):
    """`GET /users/me`: the caller's own profile and effective permissions."""

    profile: ProfileRead
    effective_permissions: PermissionsRead
