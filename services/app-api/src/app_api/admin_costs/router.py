"""`/admin/costs/*`: the administrators' cost dashboard (the original's routes and query names)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from app_api.admin_costs import service
from app_api.admin_costs.schemas import (
    AdminCostDashboard,
    CostTrend,
    ModelUsageSummary,
    SystemCostSummary,
    TierUsageSummary,
    TopUserCost,
)
from app_api.dependencies import AdminUser, StorageDep
from chat_core.quotas import UNLIMITED_USD
from chat_http.errors import error_responses

__all__ = ["router"]

router = APIRouter(prefix="/admin/costs", tags=["admin", "costs"], responses=error_responses(403, 422))

_MONTH = r"^[1-9]\d{3}-(0[1-9]|1[0-2])$"
Month = Annotated[str | None, Query(pattern=_MONTH, description="YYYY-MM (default: this month, UTC)")]


@router.get("/dashboard", response_model=AdminCostDashboard)
async def read_dashboard(
    admin: AdminUser,
    storage: StorageDep,
    period: Month = None,
    top_users_limit: Annotated[int, Query(alias="topUsersLimit", ge=1, le=1000)] = 100,
    include_trends: Annotated[bool, Query(alias="includeTrends")] = True,
) -> AdminCostDashboard:
    """Admin: a month's totals, top users, models, tiers and daily trend."""
    return await service.dashboard(
        storage, period=period, top_users_limit=top_users_limit, include_trends=include_trends
    )


@router.get("/top-users", response_model=list[TopUserCost])
async def read_top_users(
    admin: AdminUser,
    storage: StorageDep,
    period: Month = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    min_cost: Annotated[float | None, Query(alias="minCost", ge=0, le=UNLIMITED_USD)] = None,
    tier_id: Annotated[str | None, Query(alias="tierId", max_length=64)] = None,
) -> list[TopUserCost]:
    """Admin: the users who spent most in a month, highest first."""
    return await service.top_users(storage, period=period, limit=limit, min_cost=min_cost, tier_id=tier_id)


@router.get("/system-summary", response_model=SystemCostSummary)
async def read_system_summary(
    admin: AdminUser,
    storage: StorageDep,
    period: Annotated[
        str | None, Query(max_length=10, description="YYYY-MM, or YYYY-MM-DD when daily")
    ] = None,
    period_type: Annotated[Literal["daily", "monthly"], Query(alias="periodType")] = "monthly",
) -> SystemCostSummary:
    """Admin: the whole system's spend in a day or a month."""
    return await service.system_summary(storage, period=period, period_type=period_type)


@router.get("/by-model", response_model=list[ModelUsageSummary])
async def read_model_usage(
    admin: AdminUser, storage: StorageDep, period: Month = None
) -> list[ModelUsageSummary]:
    """Admin: spend per model in a month."""
    return await service.model_usage(storage, period=period)


@router.get("/by-tier", response_model=list[TierUsageSummary])
async def read_tier_usage(
    admin: AdminUser, storage: StorageDep, period: Month = None
) -> list[TierUsageSummary]:
    """Admin: spend per quota tier in a month, with the users who were warned or reached the limit."""
    return await service.tier_usage(storage, period=period)


@router.get("/trends", response_model=list[CostTrend])
async def read_trends(
    admin: AdminUser,
    storage: StorageDep,
    start_date: Annotated[date, Query(alias="startDate")],
    end_date: Annotated[date, Query(alias="endDate", description="At most 90 days after startDate")],
) -> list[CostTrend]:
    """Admin: one point per day of a range."""
    return await service.trends(storage, start=start_date, end=end_date)


@router.get(
    "/export",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/json": {}}, "description": "A file"}},
)
async def export_costs(
    admin: AdminUser,
    storage: StorageDep,
    export_format: Annotated[Literal["csv", "json"], Query(alias="format")] = "csv",
    period: Month = None,
) -> Response:
    """Admin: the month's users by spend (at most 1000) as a CSV or JSON download."""
    name, media_type, content = await service.export_rows(storage, period=period, export_format=export_format)
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
