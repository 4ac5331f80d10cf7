"""The caller's spend for a month."""

from __future__ import annotations

from datetime import UTC, datetime

from chat_core.costs import UserCostSummary, period_bounds, period_of
from chat_core.identity import User
from chat_core.ports import CostLedger

__all__ = ["get_summary"]


async def get_summary(costs: CostLedger, user: User, period: str | None) -> UserCostSummary:
    """The `YYYY-MM` summary (the current month when `period` is omitted), by model.

    Raises:
        InvalidInputError: `period` is not `YYYY-MM`.
    """
    chosen = period or period_of(datetime.now(UTC))
    period_bounds(chosen)
    return await costs.summary(user.user_id, chosen)
