"""Cost reports for administrators, each a bounded, keyed read of rollups kept with every turn.

A month's dashboard reads one month rollup (totals, models, tiers), the first `topUsersLimit` rows of
the (period, spend) index, the month's day rollups (at most 31) and the profiles of at most
`_EMAIL_LOOKUPS` top users: its cost depends on those limits, not on how many users or turns the
month had. Nothing lists every user or every record.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from app_api.admin_costs.schemas import (
    AdminCostDashboard,
    CostTrend,
    ModelBreakdownItem,
    ModelUsageSummary,
    SystemCostSummary,
    TierUsageSummary,
    TopUserCost,
)
from chat_core.costs import PeriodRollup, UserPeriodSpend, period_bounds
from chat_core.errors import InvalidInputError
from chat_core.ids import UserId
from chat_storage import Storage

__all__ = [
    "EXPORT_MAX_USERS",
    "MAX_TREND_DAYS",
    "dashboard",
    "export_rows",
    "model_usage",
    "system_summary",
    "tier_usage",
    "top_users",
    "trends",
]

MAX_TREND_DAYS = 90
"""Longest range of `/trends` (the original's limit)."""
EXPORT_MAX_USERS = 1000
"""Rows of an export, highest spend first (the original's limit)."""
_EMAIL_LOOKUPS = 100
"""Top users whose email is looked up (one keyed read each)."""


def _month(period: str | None) -> str:
    chosen = period or datetime.now(UTC).strftime("%Y-%m")
    period_bounds(chosen)
    return chosen


def _day(period: str | None) -> str:
    if period is None:
        return datetime.now(UTC).date().isoformat()
    try:
        return date.fromisoformat(period).isoformat()
    except ValueError as exc:
        raise InvalidInputError(
            "period must look like YYYY-MM-DD for daily summaries.", field="period"
        ) from exc


def _summary(rollup: PeriodRollup, period_type: str) -> SystemCostSummary:
    return SystemCostSummary(
        period=rollup.period,
        period_type=period_type,
        total_cost=rollup.total_cost,
        total_requests=rollup.total_requests,
        active_users=rollup.active_users,
        total_input_tokens=rollup.total_input_tokens,
        total_output_tokens=rollup.total_output_tokens,
        total_cache_savings=rollup.total_cache_savings,
        model_breakdown={
            model.model_id: ModelBreakdownItem(cost=model.total_cost, requests=model.total_requests)
            for model in rollup.models
        },
        last_updated=rollup.updated_at,
    )


def _models(rollup: PeriodRollup) -> list[ModelUsageSummary]:
    return [
        ModelUsageSummary(
            model_id=model.model_id,
            model_name=model.model_name or model.model_id,
            provider=model.provider or "",
            total_cost=model.total_cost,
            total_requests=model.total_requests,
            unique_users=model.unique_users,
            avg_cost_per_request=round(model.total_cost / model.total_requests, 9)
            if model.total_requests
            else 0.0,
            total_input_tokens=model.total_input_tokens,
            total_output_tokens=model.total_output_tokens,
        )
        for model in rollup.models
    ]


def _tiers(rollup: PeriodRollup) -> list[TierUsageSummary]:
    return [
        TierUsageSummary(
            tier_id=tier.tier_id,
            tier_name=tier.tier_name or tier.tier_id,
            total_cost=tier.total_cost,
            total_users=tier.total_users,
            users_at_limit=tier.users_at_limit,
            users_warned=tier.users_warned,
            avg_utilization=round(100 * tier.utilization_sum / tier.total_users, 2)
            if tier.total_users
            else 0.0,
        )
        for tier in rollup.tiers
    ]


async def _with_emails(storage: Storage, rows: list[UserPeriodSpend]) -> list[TopUserCost]:
    looked_up = rows[:_EMAIL_LOOKUPS]
    profiles = await asyncio.gather(*(storage.users.get(UserId(row.user_id)) for row in looked_up))
    emails = {row.user_id: profile.email for row, profile in zip(looked_up, profiles, strict=True) if profile}
    return [
        TopUserCost(
            user_id=row.user_id,
            total_cost=row.total_cost,
            total_requests=row.total_requests,
            last_updated=row.updated_at,
            email=emails.get(row.user_id),
            tier_name=row.tier_name or None,
            quota_limit=row.quota_limit,
            quota_percentage=round(100 * row.total_cost / row.quota_limit, 2) if row.quota_limit else None,
        )
        for row in rows
    ]


async def system_summary(storage: Storage, *, period: str | None, period_type: str) -> SystemCostSummary:
    """One day's or month's totals (one keyed read)."""
    chosen = _day(period) if period_type == "daily" else _month(period)
    return _summary(await storage.usage.rollup(chosen), period_type)


async def top_users(
    storage: Storage, *, period: str | None, limit: int, min_cost: float | None, tier_id: str | None
) -> list[TopUserCost]:
    """The users who spent most in a month; `tier_id` keeps those whose last turn ran under it."""
    rows = await storage.usage.top_users(_month(period), limit=limit, min_cost=min_cost)
    if tier_id is not None:
        rows = [row for row in rows if row.tier_id == tier_id]
    return await _with_emails(storage, rows)


async def model_usage(storage: Storage, *, period: str | None) -> list[ModelUsageSummary]:
    """Spend per model in a month, highest first."""
    return _models(await storage.usage.rollup(_month(period)))


async def tier_usage(storage: Storage, *, period: str | None) -> list[TierUsageSummary]:
    """Spend per quota tier in a month, highest first."""
    return _tiers(await storage.usage.rollup(_month(period)))


async def trends(storage: Storage, *, start: date, end: date) -> list[CostTrend]:
    """One point per day from `start` to `end` (days without spend are zeros).

    Raises:
        InvalidInputError: the range is reversed or longer than `MAX_TREND_DAYS`.
    """
    if end < start:
        raise InvalidInputError("endDate must not be before startDate.", field="endDate")
    if (end - start).days >= MAX_TREND_DAYS:
        raise InvalidInputError(f"Trends cover at most {MAX_TREND_DAYS} days.", field="endDate")
    found = {rollup.period: rollup for rollup in await storage.usage.daily_rollups(start, end)}
    points = []
    for offset in range((end - start).days + 1):
        day = (start + timedelta(days=offset)).isoformat()
        rollup = found.get(day, PeriodRollup(period=day))
        points.append(
            CostTrend(
                date=day,
                total_cost=rollup.total_cost,
                total_requests=rollup.total_requests,
                active_users=rollup.active_users,
            )
        )
    return points


async def dashboard(
    storage: Storage, *, period: str | None, top_users_limit: int, include_trends: bool
) -> AdminCostDashboard:
    """The month's summary, top users, models, tiers and (optionally) its daily trend."""
    month = _month(period)
    rollup = await storage.usage.rollup(month)
    first, last = period_bounds(month)
    today = datetime.now(UTC).date()
    return AdminCostDashboard(
        current_period=_summary(rollup, "monthly"),
        top_users=await _with_emails(storage, await storage.usage.top_users(month, limit=top_users_limit)),
        model_usage=_models(rollup),
        tier_usage=_tiers(rollup),
        daily_trends=await trends(storage, start=first, end=today if first <= today <= last else last)
        if include_trends
        else None,
    )


async def export_rows(storage: Storage, *, period: str | None, export_format: str) -> tuple[str, str, bytes]:
    """The month's top users (at most `EXPORT_MAX_USERS`) as CSV or JSON: file name, type, bytes."""
    month = _month(period)
    rows = await _with_emails(storage, await storage.usage.top_users(month, limit=EXPORT_MAX_USERS))
    if export_format == "json":
        payload = json.dumps([row.model_dump(mode="json", by_alias=True) for row in rows], indent=2)
        return f"cost_report_{month}.json", "application/json", payload.encode()
    return f"cost_report_{month}.csv", "text/csv", "".join(_csv(rows)).encode()


def _csv(rows: list[TopUserCost]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["User ID", "Email", "Total Cost ($)", "Total Requests", "Tier", "Quota %", "Last Updated"]
    )
    for row in rows:
        writer.writerow(
            [
                row.user_id,
                row.email or "",
                f"{row.total_cost:.6f}",
                row.total_requests,
                row.tier_name or "",
                f"{row.quota_percentage:.1f}" if row.quota_percentage is not None else "",
                row.last_updated.isoformat() if row.last_updated else "",
            ]
        )
    yield buffer.getvalue()
