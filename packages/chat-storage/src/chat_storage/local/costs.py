"""The cost ledger in SQLite: one record per message, and per-model monthly totals added atomically."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from chat_core.costs import (
    CostBreakdown,
    CostRecord,
    ModelCostSummary,
    UserCostSummary,
    period_bounds,
    period_of,
    summarize_records,
)
from chat_core.ids import UserId, validate_id
from chat_storage.local._db import Database, Params
from chat_storage.local.usage import settlement_statements

__all__ = ["LocalCostLedger"]

_SUMMARY_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "input_cost_nusd",
    "output_cost_nusd",
    "cache_write_cost_nusd",
    "cache_read_cost_nusd",
    "total_cost_nusd",
    "cache_savings_nusd",
    "request_count",
)
_ADD = ", ".join(f"{column} = {column} + excluded.{column}" for column in _SUMMARY_COLUMNS)


def _nano(usd: float) -> int:
    """USD (already rounded to 1e-9 by chat_core) as an exact integer count of nano-dollars."""
    return int((Decimal(str(usd)) * 1_000_000_000).to_integral_value())


def _usd(nano: int) -> float:
    return float(Decimal(nano).scaleb(-9))


def _recorded_at(moment: datetime) -> str:
    """UTC ISO text starting with the date, so that a range of days is a range of strings."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_INSERT_RECORD = "INSERT OR IGNORE INTO cost_records (user_id, message_id, period, recorded_at, body) VALUES (?, ?, ?, ?, ?)"
_ADD_TO_SUMMARY = (
    f"INSERT INTO cost_summaries (user_id, period, model_id, model_name, provider, "  # noqa: S608 (constants and placeholders only)  # nosec B608
    f"{', '.join(_SUMMARY_COLUMNS)}) VALUES ({', '.join('?' * (5 + len(_SUMMARY_COLUMNS)))}) "
    f"ON CONFLICT (user_id, period, model_id) DO UPDATE SET model_name = excluded.model_name, "
    f"provider = excluded.provider, {_ADD}"
)


@dataclass(frozen=True, slots=True)
class CostWrite:
    """The parameters of one cost record's statements, prepared before the write lock is taken."""

    record: tuple[object, ...]
    summary: tuple[object, ...]
    settlement: tuple[tuple[str, Params], ...] = ()
    """The record's quota and rollup statements (`chat_storage.local.usage.settlement_statements`)."""

    @classmethod
    def of(cls, entry: CostRecord) -> CostWrite:
        """Validate the ids and compute the rows of `entry`."""
        validate_id(entry.user_id, field="userId")
        validate_id(entry.session_id, field="sessionId")
        validate_id(entry.message_id, field="messageId")
        period = period_of(entry.timestamp)
        usage, cost = entry.usage, entry.cost
        increments = (
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_input_tokens or 0,
            usage.cache_write_input_tokens or 0,
            _nano(cost.input_cost),
            _nano(cost.output_cost),
            _nano(cost.cache_write_cost),
            _nano(cost.cache_read_cost),
            _nano(cost.total_cost),
            _nano(entry.cache_savings),
            1,
        )
        return cls(
            record=(
                entry.user_id,
                entry.message_id,
                period,
                _recorded_at(entry.timestamp),
                entry.model_dump_json(by_alias=True),
            ),
            summary=(entry.user_id, period, entry.model_id, entry.model_name, entry.provider, *increments),
            settlement=tuple(
                settlement_statements(
                    entry,
                    user_id=entry.user_id,
                    reservation_id=entry.quota.reservation_id if entry.quota is not None else None,
                )
            ),
        )

    def apply(self, connection: sqlite3.Connection) -> bool:
        """Inside a write transaction: insert the record and, only if it was new, count it.

        Counted: its month's summary, the user's quota periods (releasing the turn's reservation) and
        the cost rollups.
        """
        if connection.execute(_INSERT_RECORD, self.record).rowcount == 0:
            return False
        connection.execute(_ADD_TO_SUMMARY, self.summary)
        for statement, params in self.settlement:
            connection.execute(statement, params)
        return True


class LocalCostLedger:
    """`CostLedger` on SQLite.

    `record` inserts the record with `INSERT OR IGNORE` keyed by (user, message id) and adds to the
    month's per-model row only when the insert happened, in one transaction: a retried turn counts once.
    The same transaction counts the cost against the user's quota periods and the cost rollups.
    """

    def __init__(self, database: Database) -> None:
        self._db = database

    async def record(self, entry: CostRecord) -> bool:
        """Store the record and add it to the month's summary atomically; `False` if already recorded."""
        return await self._db.write(CostWrite.of(entry).apply)

    async def summary(self, user_id: UserId, period: str) -> UserCostSummary:
        """The user's `YYYY-MM` summary (zeros when nothing was spent), models by cost, highest first."""
        validate_id(user_id, field="userId")
        start, end = period_bounds(period)
        rows = await self._db.fetch_all(
            "SELECT * FROM cost_summaries WHERE user_id = ? AND period = ? ORDER BY total_cost_nusd DESC, model_id",
            (user_id, period),
        )
        models = [
            ModelCostSummary(
                model_id=row["model_id"],
                model_name=row["model_name"],
                provider=row["provider"],
                total_input_tokens=row["input_tokens"],
                total_output_tokens=row["output_tokens"],
                total_cache_read_tokens=row["cache_read_tokens"],
                total_cache_write_tokens=row["cache_write_tokens"],
                cost_breakdown=CostBreakdown(
                    input_cost=_usd(row["input_cost_nusd"]),
                    output_cost=_usd(row["output_cost_nusd"]),
                    cache_write_cost=_usd(row["cache_write_cost_nusd"]),
                    cache_read_cost=_usd(row["cache_read_cost_nusd"]),
                    total_cost=_usd(row["total_cost_nusd"]),
                ),
                request_count=row["request_count"],
            )
            for row in rows
        ]
        return UserCostSummary(
            user_id=user_id,
            period_start=start,
            period_end=end,
            total_cost=_usd(sum(row["total_cost_nusd"] for row in rows)),
            models=models,
            total_requests=sum(row["request_count"] for row in rows),
            total_input_tokens=sum(row["input_tokens"] for row in rows),
            total_output_tokens=sum(row["output_tokens"] for row in rows),
            total_cache_read_tokens=sum(row["cache_read_tokens"] for row in rows),
            total_cache_write_tokens=sum(row["cache_write_tokens"] for row in rows),
            total_cache_savings=_usd(sum(row["cache_savings_nusd"] for row in rows)),
        )

    async def report(self, user_id: UserId, start: date, end: date) -> UserCostSummary:
        """The user's spend from `start` to `end` inclusive (UTC days), from the records in range."""
        validate_id(user_id, field="userId")
        rows = await self._db.fetch_all(
            "SELECT body FROM cost_records WHERE user_id = ? AND recorded_at >= ? AND recorded_at < ?",
            (user_id, start.isoformat(), (end + timedelta(days=1)).isoformat()),
        )
        records = [CostRecord.model_validate_json(row["body"]) for row in rows]
        return summarize_records(user_id, start, end, records)
