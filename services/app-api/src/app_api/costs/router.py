"""`GET /costs/summary` (a month) and `GET /costs/detailed-report` (a range of days)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app_api.costs import service
from app_api.dependencies import CurrentUser, StorageDep
from chat_core.costs import UserCostSummary
from chat_core.fields import IsoDate

__all__ = ["router"]

router = APIRouter(prefix="/costs", tags=["costs"])


@router.get("/summary", response_model=UserCostSummary)
async def read_cost_summary(
    user: CurrentUser,
    storage: StorageDep,
    period: Annotated[
        str | None,
        Query(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$", description="YYYY-MM (default: this month)"),
    ] = None,
) -> UserCostSummary:
    """The caller's usage and cost for a month, by model."""
    return await service.get_summary(storage.costs, user, period)


@router.get("/detailed-report", response_model=UserCostSummary)
async def read_cost_report(
    user: CurrentUser,
    storage: StorageDep,
    start_date: Annotated[IsoDate, Query(description="First day, YYYY-MM-DD (UTC)")],
    end_date: Annotated[IsoDate, Query(description="Last day, YYYY-MM-DD (UTC); at most 90 days in all")],
) -> UserCostSummary:
    """The caller's usage and cost over a range of days, by model."""
    return await service.get_report(storage.costs, user, start_date, end_date)
