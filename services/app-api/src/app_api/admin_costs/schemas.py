"""HTTP shapes of `/admin/costs/*` (the original's `AdminCostDashboard` and its parts)."""

from __future__ import annotations

from datetime import datetime

from app_api.schemas import ApiModel

__all__ = [
    "AdminCostDashboard",
    "CostTrend",
    "ModelBreakdownItem",
    "ModelUsageSummary",
    "SystemCostSummary",
    "TierUsageSummary",
    "TopUserCost",
]


class ModelBreakdownItem(ApiModel):
    """A model's share of a period."""

    cost: float
    requests: int


class SystemCostSummary(ApiModel):
    """The whole system's spend in a day or a month."""

    period: str
    period_type: str
    total_cost: float
    total_requests: int
    active_users: int
    total_input_tokens: int
    total_output_tokens: int
    total_cache_savings: float = 0.0
    model_breakdown: dict[str, ModelBreakdownItem] | None = None
    last_updated: datetime | None = None


class TopUserCost(ApiModel):
    """One of the users who spent most in the period."""

    user_id: str
    total_cost: float
    total_requests: int
    last_updated: datetime | None = None
    email: str | None = None
    tier_name: str | None = None
    quota_limit: float | None = None
    quota_percentage: float | None = None


class ModelUsageSummary(ApiModel):
    """A model's use in a month."""

    model_id: str
    model_name: str
    provider: str
    total_cost: float
    total_requests: int
    unique_users: int
    avg_cost_per_request: float
    total_input_tokens: int
    total_output_tokens: int


class TierUsageSummary(ApiModel):
    """A quota tier's use in a month (by the tier each turn ran under)."""

    tier_id: str
    tier_name: str
    total_cost: float
    total_users: int
    users_at_limit: int
    users_warned: int
    avg_utilization: float
    """Average over the tier's users of spent / monthly limit, in percent."""


class CostTrend(ApiModel):
    """One day of spend."""

    date: str
    total_cost: float
    total_requests: int
    active_users: int


class AdminCostDashboard(ApiModel):
    """Everything the admin cost page shows, in one response."""

    current_period: SystemCostSummary
    top_users: list[TopUserCost]
    model_usage: list[ModelUsageSummary]
    tier_usage: list[TierUsageSummary] | None = None
    daily_trends: list[CostTrend] | None = None
