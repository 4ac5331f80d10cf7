"""The caller's spend for a month, or over a range of days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from chat_core.costs import UserCostSummary, period_bounds, period_of
from chat_core.errors import InvalidInputError
from chat_core.identity import User
from chat_core.ports import CostLedger

__all__ = ["MAX_REPORT_DAYS", "get_report", "get_summary"]

MAX_REPORT_DAYS = 90
"""Longest range of a detailed report, in days (the original's limit): a report reads every record."""


async def get_summary(costs: CostLedger, user: User, period: str | None) -> UserCostSummary:
    """The `YYYY-MM` summary (the current month when `period` is omitted), by model.

    Raises:
        InvalidInputError: `period` is not `YYYY-MM`.
    """
    chosen = period or period_of(datetime.now(UTC))
    period_bounds(chosen)
    return await costs.summary(user.user_id, chosen)


async def get_report(costs: CostLedger, user: User, start: date, end: date) -> UserCostSummary:
    """The spend from `start` to `end` inclusive (UTC days), by model.

    Raises:
        InvalidInputError: the range is reversed or longer than `MAX_REPORT_DAYS`.
    """
    if end < start:
        raise InvalidInputError("end_date must not be before start_date.", field="end_date")
    if end - start >= timedelta(days=MAX_REPORT_DAYS):
        raise InvalidInputError(
            f"A report covers at most {MAX_REPORT_DAYS} days; choose a shorter range.", field="end_date"
        )
    return await costs.report(user.user_id, start, end)
