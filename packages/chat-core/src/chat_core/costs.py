"""Token usage, prices and cost: the arithmetic and the records it produces.

Money is computed in `Decimal` (exact for per-million prices) and carried as `float` on the wire,
rounded to 1e-9 USD, because the frontend expects JSON numbers.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

from pydantic import Field

from chat_core._base import CamelModel
from chat_core.clock import utc_now
from chat_core.errors import InvalidInputError
from chat_core.ids import SessionId, UserId
from chat_core.quotas import QuotaStamp

__all__ = [
    "CostBreakdown",
    "CostRecord",
    "ModelCostSummary",
    "ModelRollup",
    "PeriodRollup",
    "PricingSnapshot",
    "TierRollup",
    "TokenUsage",
    "UserCostSummary",
    "UserPeriodSpend",
    "cache_savings",
    "compute_cost",
    "period_bounds",
    "period_of",
    "summarize_records",
]

_MILLION = Decimal(1_000_000)
_QUANTUM = Decimal("0.000000001")
_PERIOD = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_FIRST_YEAR = 1  # `datetime.date` has no year 0


class TokenUsage(CamelModel):
    """Tokens a turn consumed, as providers report them."""

    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    total_tokens: int = Field(default=0, ge=0)
    cache_write_input_tokens: int | None = Field(default=None, ge=0)
    cache_read_input_tokens: int | None = Field(default=None, ge=0)

    def __add__(self, other: TokenUsage) -> TokenUsage:
        """Usage of several model calls in one turn adds up (the original let the last one win)."""

        def both(a: int | None, b: int | None) -> int | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return TokenUsage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cache_write_input_tokens=both(self.cache_write_input_tokens, other.cache_write_input_tokens),
            cache_read_input_tokens=both(self.cache_read_input_tokens, other.cache_read_input_tokens),
        )


class PricingSnapshot(CamelModel):
    """USD per million tokens, copied from the managed model when the turn ran."""

    input_price_per_mtok: float = Field(ge=0)
    output_price_per_mtok: float = Field(ge=0)
    cache_write_price_per_mtok: float | None = Field(default=None, ge=0)
    cache_read_price_per_mtok: float | None = Field(default=None, ge=0)
    currency: str = "USD"
    snapshot_at: datetime = Field(default_factory=utc_now)


class CostBreakdown(CamelModel):
    """Cost of a turn (or a sum of turns) by token kind, in USD."""

    input_cost: float = 0.0
    output_cost: float = 0.0
    cache_write_cost: float = 0.0
    cache_read_cost: float = 0.0
    total_cost: float = 0.0


def _money(tokens: int | None, price_per_mtok: float | None) -> Decimal:
    if not tokens or price_per_mtok is None:
        return Decimal(0)
    return Decimal(tokens) * Decimal(str(price_per_mtok)) / _MILLION


def _round(value: Decimal) -> float:
    return float(value.quantize(_QUANTUM))


def compute_cost(usage: TokenUsage, pricing: PricingSnapshot) -> CostBreakdown:
    """Cost = tokens / 1e6 x price, for input, output, cache write and cache read.

    Cache tokens without a cache price cost nothing (the provider does not bill them separately).
    """
    parts = (
        _money(usage.input_tokens, pricing.input_price_per_mtok),
        _money(usage.output_tokens, pricing.output_price_per_mtok),
        _money(usage.cache_write_input_tokens, pricing.cache_write_price_per_mtok),
        _money(usage.cache_read_input_tokens, pricing.cache_read_price_per_mtok),
    )
    return CostBreakdown(
        input_cost=_round(parts[0]),
        output_cost=_round(parts[1]),
        cache_write_cost=_round(parts[2]),
        cache_read_cost=_round(parts[3]),
        total_cost=_round(sum(parts, Decimal(0))),
    )


def cache_savings(usage: TokenUsage, pricing: PricingSnapshot) -> float:
    """What cache reads saved against paying the full input price for them."""
    if not usage.cache_read_input_tokens or pricing.cache_read_price_per_mtok is None:
        return 0.0
    delta = Decimal(str(pricing.input_price_per_mtok)) - Decimal(str(pricing.cache_read_price_per_mtok))
    return _round(Decimal(usage.cache_read_input_tokens) * max(delta, Decimal(0)) / _MILLION)


def period_of(moment: datetime) -> str:
    """The billing period (`YYYY-MM`, UTC) a moment belongs to."""
    return moment.astimezone(UTC).strftime("%Y-%m")


def period_bounds(period: str) -> tuple[date, date]:
    """First and last day of a `YYYY-MM` period (the original hard-coded day 31).

    Raises:
        InvalidInputError: when `period` is not `YYYY-MM`.
    """
    match = _PERIOD.fullmatch(period)
    if not match or int(match[1]) < _FIRST_YEAR:
        raise InvalidInputError("period must look like YYYY-MM.", field="period")
    year, month = int(match[1]), int(match[2])
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


class CostRecord(CamelModel):
    """One billed turn. Recording the same `message_id` twice counts it once."""

    user_id: UserId
    session_id: SessionId
    message_id: str
    model_id: str
    model_name: str
    provider: str | None = None
    timestamp: datetime = Field(default_factory=utc_now)
    usage: TokenUsage
    pricing: PricingSnapshot
    cost: CostBreakdown
    cache_savings: float = 0.0
    quota: QuotaStamp | None = None
    """The quota the turn ran under: the stored turn settles its reservation and counts its tier."""

    @classmethod
    def for_turn(
        cls,
        *,
        user_id: UserId,
        session_id: SessionId,
        message_id: str,
        model_id: str,
        model_name: str,
        provider: str | None,
        usage: TokenUsage,
        pricing: PricingSnapshot,
        timestamp: datetime | None = None,
        quota: QuotaStamp | None = None,
    ) -> CostRecord:
        """Price a turn's usage with its snapshot."""
        return cls(
            user_id=user_id,
            session_id=session_id,
            message_id=message_id,
            model_id=model_id,
            model_name=model_name,
            provider=provider,
            timestamp=timestamp or utc_now(),
            usage=usage,
            pricing=pricing,
            cost=compute_cost(usage, pricing),
            cache_savings=cache_savings(usage, pricing),
            quota=quota,
        )


class ModelCostSummary(CamelModel):
    """A user's spend on one model within a period."""

    model_id: str
    model_name: str
    provider: str | None = None
    total_input_tokens: int = 0
    total_output_tokens: int = 0
    total_cache_read_tokens: int = 0
    total_cache_write_tokens: int = 0
    cost_breakdown: CostBreakdown = Field(default_factory=CostBreakdown)
    request_count: int = 0


class UserCostSummary(CamelModel):
    """A user's spend within a month, with the per-model breakdown."""

    user_id: UserId
    period_start: date
    period_end: date
    total_cost: float = 0.0
    models: list[ModelCostSummary] = Field(default_factory=list)
    total_requests: int = 0
    total_input_tokens: int = 0
    total_output_tokens: int = 0
    total_cache_read_tokens: int = 0
    total_cache_write_tokens: int = 0
    total_cache_savings: float = 0.0


def _usd(values: Iterable[float]) -> float:
    """An exact sum of amounts already rounded to 1e-9 USD."""
    return _round(sum((Decimal(str(value)) for value in values), Decimal(0)))


def summarize_records(
    user_id: UserId, start: date, end: date, records: Iterable[CostRecord]
) -> UserCostSummary:
    """The summary of a user's records over `start`..`end` (the caller selects the records).

    Models are ordered by cost, highest first; money is summed exactly.
    """
    by_model: dict[str, list[CostRecord]] = {}
    for record in records:
        by_model.setdefault(record.model_id, []).append(record)
    models = []
    for model_id, entries in by_model.items():
        last = max(entries, key=lambda entry: entry.timestamp)
        models.append(
            ModelCostSummary(
                model_id=model_id,
                model_name=last.model_name,
                provider=last.provider,
                total_input_tokens=sum(entry.usage.input_tokens for entry in entries),
                total_output_tokens=sum(entry.usage.output_tokens for entry in entries),
                total_cache_read_tokens=sum(entry.usage.cache_read_input_tokens or 0 for entry in entries),
                total_cache_write_tokens=sum(entry.usage.cache_write_input_tokens or 0 for entry in entries),
                cost_breakdown=CostBreakdown(
                    input_cost=_usd(entry.cost.input_cost for entry in entries),
                    output_cost=_usd(entry.cost.output_cost for entry in entries),
                    cache_write_cost=_usd(entry.cost.cache_write_cost for entry in entries),
                    cache_read_cost=_usd(entry.cost.cache_read_cost for entry in entries),
                    total_cost=_usd(entry.cost.total_cost for entry in entries),
                ),
                request_count=len(entries),
            )
        )
    models.sort(key=lambda model: (-model.cost_breakdown.total_cost, model.model_id))
    everything = [entry for entries in by_model.values() for entry in entries]
    return UserCostSummary(
        user_id=user_id,
        period_start=start,
        period_end=end,
        total_cost=_usd(model.cost_breakdown.total_cost for model in models),
        models=models,
        total_requests=len(everything),
        total_input_tokens=sum(model.total_input_tokens for model in models),
        total_output_tokens=sum(model.total_output_tokens for model in models),
        total_cache_read_tokens=sum(model.total_cache_read_tokens for model in models),
        total_cache_write_tokens=sum(model.total_cache_write_tokens for model in models),
        total_cache_savings=_usd(entry.cache_savings for entry in everything),
    )


class ModelRollup(CamelModel):
    """One model's share of a period (system-wide)."""

    model_id: str
    model_name: str = ""
    provider: str | None = None
    total_cost: float = 0.0
    total_requests: int = 0
    unique_users: int = 0
    """Counted on monthly rollups only."""
    total_input_tokens: int = 0
    total_output_tokens: int = 0


class TierRollup(CamelModel):
    """One quota tier's share of a month: by the tier each turn ran under."""

    tier_id: str
    tier_name: str = ""
    total_cost: float = 0.0
    total_users: int = 0
    users_warned: int = 0
    """Users whose spend crossed the tier's soft limit this month."""
    users_at_limit: int = 0
    """Users whose spend reached the monthly limit this month."""
    utilization_sum: float = 0.0
    """Sum over the tier's users of spent / limit (the average is this over `total_users`)."""


class PeriodRollup(CamelModel):
    """The whole system's spend in one UTC day (`YYYY-MM-DD`) or month (`YYYY-MM`), kept with each turn."""

    period: str
    total_cost: float = 0.0
    total_requests: int = 0
    active_users: int = 0
    total_input_tokens: int = 0
    total_output_tokens: int = 0
    total_cache_savings: float = 0.0
    models: list[ModelRollup] = Field(default_factory=list)
    tiers: list[TierRollup] = Field(default_factory=list)
    updated_at: datetime | None = None


class UserPeriodSpend(CamelModel):
    """One user's spend in a period, as the top-users list shows it."""

    user_id: UserId
    period: str
    total_cost: float = 0.0
    total_requests: int = 0
    tier_id: str = ""
    tier_name: str = ""
    quota_limit: float | None = None
    updated_at: datetime | None = None
