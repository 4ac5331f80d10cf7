"""HTTP shapes of `/admin/quota/users/{userId}` and `/users/me/quota` (the original's names)."""

from __future__ import annotations

from datetime import datetime

from app_api.schemas import ApiModel
from chat_core.quotas import QuotaAssignment, QuotaOverride, QuotaTier

__all__ = ["QuotaStatusRead", "UserQuotaInfo"]


class UserQuotaInfo(ApiModel):
    """The inspector's view of one user: resolved tier, how it was found, usage and blocks."""

    user_id: str
    email: str
    roles: list[str]
    tier: QuotaTier | None = None
    assignment: QuotaAssignment | None = None
    override: QuotaOverride | None = None
    matched_by: str | None = None
    current_period: str
    """`YYYY-MM` (or `YYYY-MM-DD` when the binding limit is daily)."""
    period_type: str
    current_usage: float
    reserved: float = 0.0
    """Held by turns running now."""
    quota_limit: float | None = None
    percentage_used: float
    remaining: float | None = None
    warning_level: str = "none"
    resets_at: datetime
    recent_blocks: int
    last_block_time: datetime | None = None


class QuotaStatusRead(ApiModel):
    """A user's quota at a glance (`UserDetailResponse.quotaStatus`, and the caller's own)."""

    tier_id: str | None = None
    tier_name: str | None = None
    matched_by: str | None = None
    period_type: str = "monthly"
    monthly_limit: float | None = None
    daily_limit: float | None = None
    current_usage: float
    """USD spent in the binding period."""
    usage_percentage: float = 0.0
    remaining: float | None = None
    warning_level: str = "none"
    resets_at: datetime | None = None
    has_active_override: bool = False
    override_reason: str | None = None
