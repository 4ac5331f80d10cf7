"""Per-user spend, reservations and the system's cost rollups in SQLite.

A turn's cost is counted by `settlement_statements`, run inside the transaction that stores the
turn's cost record, so spend, rollups and the record are one atomic write:

- `usage_periods`: the user's spend (and reservations) per UTC day `YYYY-MM-DD` and month `YYYY-MM`;
- `cost_rollups`: per period, the totals (`total`), each model (`model`) and, per month, each quota
  tier (`tier`), including how many users crossed the tier's soft limit or reached its limit;
- `usage_markers`: one row per (period, scope, user), so distinct users are counted once
  (`INSERT OR IGNORE`, then `changes()` of that statement is the increment).

Every report is then a keyed read: one period's rollup rows, one row per day of a range, or the
first rows of the `(period, spend)` index for the top users. Money is integer nano-dollars.
"""

from __future__ import annotations

import builtins
import sqlite3
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chat_core.costs import CostRecord, ModelRollup, PeriodRollup, TierRollup, UserPeriodSpend
from chat_core.ids import UserId, validate_id
from chat_core.quotas import PeriodUsage, UsageSnapshot, day_of, month_of
from chat_storage.local._db import Database, Params, from_db_time, to_db_time

__all__ = ["LocalUsageLedger", "nano", "settlement_statements", "usd"]

_MAX_ROWS = 1000


def nano(amount: float) -> int:
    """USD as exact integer nano-dollars."""
    return int((Decimal(str(amount)) * 1_000_000_000).to_integral_value())


def usd(amount: int) -> float:
    """Nano-dollars as USD."""
    return float(Decimal(amount).scaleb(-9))


_RELEASE_PERIODS = (
    "UPDATE usage_periods SET reserved_nusd = MAX(0, reserved_nusd - r.amount_nusd) "
    "FROM (SELECT amount_nusd, day, month FROM usage_reservations "
    "WHERE user_id = :user AND reservation_id = :reservation) AS r "
    "WHERE usage_periods.user_id = :user AND usage_periods.period IN (r.day, r.month)"
)
_DELETE_RESERVATION = "DELETE FROM usage_reservations WHERE user_id = :user AND reservation_id = :reservation"
_MARK = "INSERT OR IGNORE INTO usage_markers (period, scope, user_id) VALUES (:period, :scope, :user)"
_TIER_ROLLUP = (
    "WITH before (spent) AS (SELECT COALESCE((SELECT spent_nusd FROM usage_periods "
    "WHERE user_id = :user AND period = :period), 0)) "
    "INSERT INTO cost_rollups (period, kind, item, name, cost_nusd, requests, users, warned, at_limit, "
    "utilization, updated_at) VALUES (:period, 'tier', :tier, :tier_name, :cost, 1, changes(), "
    "(SELECT CASE WHEN :soft IS NOT NULL AND spent < :soft AND spent + :cost >= :soft THEN 1 ELSE 0 END "
    "FROM before), "
    "(SELECT CASE WHEN :limit IS NOT NULL AND spent < :limit AND spent + :cost >= :limit THEN 1 ELSE 0 END "
    "FROM before), :utilization, :at) "
    "ON CONFLICT (period, kind, item) DO UPDATE SET name = excluded.name, "
    "cost_nusd = cost_nusd + excluded.cost_nusd, requests = requests + 1, users = users + excluded.users, "
    "warned = warned + excluded.warned, at_limit = at_limit + excluded.at_limit, "
    "utilization = utilization + excluded.utilization, updated_at = excluded.updated_at"
)
_TOTAL_ROLLUP = (
    "INSERT INTO cost_rollups (period, kind, item, cost_nusd, requests, users, input_tokens, output_tokens, "
    "savings_nusd, updated_at) VALUES (:period, 'total', '', :cost, 1, changes(), :input, :output, "
    ":savings, :at) ON CONFLICT (period, kind, item) DO UPDATE SET "
    "cost_nusd = cost_nusd + excluded.cost_nusd, requests = requests + 1, users = users + excluded.users, "
    "input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens, "
    "savings_nusd = savings_nusd + excluded.savings_nusd, updated_at = excluded.updated_at"
)
_USER_PERIOD = (
    "INSERT INTO usage_periods (user_id, period, spent_nusd, requests, tier_id, tier_name, limit_nusd, "
    "updated_at) VALUES (:user, :period, :cost, 1, :tier, :tier_name, :limit_nusd, :at) "
    "ON CONFLICT (user_id, period) DO UPDATE SET spent_nusd = spent_nusd + excluded.spent_nusd, "
    "requests = requests + 1, tier_id = excluded.tier_id, tier_name = excluded.tier_name, "
    "limit_nusd = excluded.limit_nusd, updated_at = excluded.updated_at"
)
_MODEL_ROLLUP = (
    "INSERT INTO cost_rollups (period, kind, item, name, provider, cost_nusd, requests, users, input_tokens, "
    "output_tokens, savings_nusd, updated_at) VALUES (:period, 'model', :model, :model_name, :provider, "
    ":cost, 1, {users}, :input, :output, :savings, :at) ON CONFLICT (period, kind, item) DO UPDATE SET "
    "name = excluded.name, provider = excluded.provider, cost_nusd = cost_nusd + excluded.cost_nusd, "
    "requests = requests + 1, users = users + excluded.users, "
    "input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens, "
    "savings_nusd = savings_nusd + excluded.savings_nusd, updated_at = excluded.updated_at"
)


def settlement_statements(
    entry: CostRecord | None, *, user_id: str, reservation_id: str | None
) -> list[tuple[str, Params]]:
    """The statements that count a turn, in order, for the transaction that stores it.

    They release the turn's reservation and, when it is billed (`entry`), add its cost to the
    user's day and month, to the period rollups (totals, model, tier) and count new distinct users.
    The tier statement reads the user's month spend before it is increased (soft-limit and limit
    crossings), and each rollup's `changes()` is the marker insert just before it.
    """
    statements: list[tuple[str, Params]] = []
    if reservation_id is not None:
        keys = {"user": user_id, "reservation": reservation_id}
        statements += [(_RELEASE_PERIODS, keys), (_DELETE_RESERVATION, keys)]
    if entry is None:
        return statements
    stamp = entry.quota
    cost = nano(entry.cost.total_cost)
    limit = stamp.monthly_limit if stamp is not None else None
    common: dict[str, Any] = {
        "user": user_id,
        "cost": cost,
        "input": entry.usage.input_tokens,
        "output": entry.usage.output_tokens,
        "savings": nano(entry.cache_savings),
        "at": to_db_time(entry.timestamp),
        "tier": stamp.tier_id if stamp is not None else "",
        "tier_name": stamp.tier_name if stamp is not None else "",
        "limit_nusd": nano(limit) if limit is not None else None,
        "model": entry.model_id,
        "model_name": entry.model_name,
        "provider": entry.provider,
    }
    day, month = day_of(entry.timestamp).isoformat(), month_of(entry.timestamp)
    if stamp is not None and stamp.tier_id:
        tier = common | {
            "period": month,
            "scope": f"tier:{stamp.tier_id}",
            "soft": nano(limit * stamp.soft_limit_percentage / 100) if limit is not None else None,
            "limit": nano(limit) if limit is not None else None,
            "utilization": float(cost) / nano(limit) if limit else 0.0,
        }
        statements += [(_MARK, tier), (_TIER_ROLLUP, tier)]
    for period in (day, month):
        values = common | {"period": period, "scope": "active"}
        statements += [(_MARK, values), (_TOTAL_ROLLUP, values), (_USER_PERIOD, values)]
        if period == month:
            statements += [
                (_MARK, values | {"scope": f"model:{entry.model_id}"}),
                (_MODEL_ROLLUP.format(users="changes()"), values),
            ]
        else:
            statements.append((_MODEL_ROLLUP.format(users="0"), values))
    return statements


def _snapshot(rows: list[Any], day: str, month: str) -> UsageSnapshot:
    found = {row["period"]: PeriodUsage(usd(row["spent_nusd"]), usd(row["reserved_nusd"])) for row in rows}
    return UsageSnapshot(
        day=date.fromisoformat(day),
        month=month,
        daily=found.get(day, PeriodUsage()),
        monthly=found.get(month, PeriodUsage()),
    )


_RELEASE_ONE = "UPDATE usage_periods SET reserved_nusd = MAX(0, reserved_nusd - ?) WHERE user_id = ? AND period IN (?, ?)"
_RESERVE_PERIOD = (
    "INSERT INTO usage_periods (user_id, period, reserved_nusd) VALUES (?, ?, ?) "
    "ON CONFLICT (user_id, period) DO UPDATE SET reserved_nusd = reserved_nusd + excluded.reserved_nusd"
)


class LocalUsageLedger:
    """`UsageLedger` on SQLite (see the module docstring)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def usage(self, user_id: UserId, *, at: datetime) -> UsageSnapshot:
        """Spent and reserved USD of the user's UTC day and month containing `at` (one indexed read)."""
        day, month = day_of(at).isoformat(), month_of(at)
        rows = await self._db.fetch_all(
            "SELECT period, spent_nusd, reserved_nusd FROM usage_periods WHERE user_id = ? AND period IN (?, ?)",
            (validate_id(user_id, field="userId"), day, month),
        )
        return _snapshot(rows, day, month)

    async def reserve(
        self,
        user_id: UserId,
        reservation_id: str,
        amount: float,
        *,
        at: datetime,
        expires_at: datetime,
        daily_limit: float | None,
        monthly_limit: float | None,
    ) -> tuple[bool, UsageSnapshot]:
        """Release expired reservations, decide, and reserve `amount` if admitted.

        One transaction, run as one call on the writer thread.
        """
        validate_id(user_id, field="userId")
        validate_id(reservation_id, field="reservationId")
        day, month = day_of(at).isoformat(), month_of(at)
        reserved = nano(amount)

        def reserve(connection: sqlite3.Connection) -> tuple[bool, UsageSnapshot]:
            for row in connection.execute(
                "DELETE FROM usage_reservations WHERE user_id = ? AND expires_at <= ? "
                "RETURNING amount_nusd, day, month",
                (user_id, to_db_time(at)),
            ).fetchall():
                connection.execute(_RELEASE_ONE, (row["amount_nusd"], user_id, row["day"], row["month"]))
            snapshot = _snapshot(
                connection.execute(
                    "SELECT period, spent_nusd, reserved_nusd FROM usage_periods "
                    "WHERE user_id = ? AND period IN (?, ?)",
                    (user_id, day, month),
                ).fetchall(),
                day,
                month,
            )
            admitted = all(
                nano(counted.spent) + nano(counted.reserved) < nano(limit)
                for counted, limit in ((snapshot.daily, daily_limit), (snapshot.monthly, monthly_limit))
                if limit is not None
            )
            if admitted and reserved > 0:
                connection.execute(
                    "INSERT INTO usage_reservations (user_id, reservation_id, amount_nusd, day, month, "
                    "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (user_id, reservation_id, reserved, day, month, to_db_time(expires_at)),
                )
                connection.executemany(
                    _RESERVE_PERIOD, [(user_id, day, reserved), (user_id, month, reserved)]
                )
            return admitted, snapshot

        return await self._db.write(reserve)

    async def release(self, user_id: UserId, reservation_id: str) -> bool:
        """Give a reservation back; `False` if it was gone."""
        validate_id(user_id, field="userId")
        async with self._db.transaction() as tx:
            await tx.execute(_RELEASE_PERIODS, {"user": user_id, "reservation": reservation_id})
            changed = await tx.execute(_DELETE_RESERVATION, {"user": user_id, "reservation": reservation_id})
        return changed == 1

    async def rollup(self, period: str) -> PeriodRollup:
        """The rollup rows of one period (totals, models, tiers): one primary-key range."""
        rows = await self._db.fetch_all("SELECT * FROM cost_rollups WHERE period = ?", (period,))
        result = PeriodRollup(period=period)
        for row in rows:
            updated = from_db_time(row["updated_at"]) if row["updated_at"] else None
            if row["kind"] == "total":
                result = result.model_copy(
                    update={
                        "total_cost": usd(row["cost_nusd"]),
                        "total_requests": row["requests"],
                        "active_users": row["users"],
                        "total_input_tokens": row["input_tokens"],
                        "total_output_tokens": row["output_tokens"],
                        "total_cache_savings": usd(row["savings_nusd"]),
                        "updated_at": updated,
                    }
                )
            elif row["kind"] == "model":
                result.models.append(
                    ModelRollup(
                        model_id=row["item"],
                        model_name=row["name"],
                        provider=row["provider"],
                        total_cost=usd(row["cost_nusd"]),
                        total_requests=row["requests"],
                        unique_users=row["users"],
                        total_input_tokens=row["input_tokens"],
                        total_output_tokens=row["output_tokens"],
                    )
                )
            else:
                result.tiers.append(
                    TierRollup(
                        tier_id=row["item"],
                        tier_name=row["name"],
                        total_cost=usd(row["cost_nusd"]),
                        total_users=row["users"],
                        users_warned=row["warned"],
                        users_at_limit=row["at_limit"],
                        utilization_sum=row["utilization"],
                    )
                )
        result.models.sort(key=lambda model: (-model.total_cost, model.model_id))
        result.tiers.sort(key=lambda tier: (-tier.total_cost, tier.tier_id))
        return result

    async def daily_rollups(self, start: date, end: date) -> builtins.list[PeriodRollup]:
        """The totals of each day in range that had spend (one row per day)."""
        rows = await self._db.fetch_all(
            "SELECT * FROM cost_rollups WHERE period >= ? AND period <= ? AND kind = 'total' "
            "AND length(period) = 10 ORDER BY period",
            (start.isoformat(), end.isoformat()),
        )
        return [
            PeriodRollup(
                period=row["period"],
                total_cost=usd(row["cost_nusd"]),
                total_requests=row["requests"],
                active_users=row["users"],
                total_input_tokens=row["input_tokens"],
                total_output_tokens=row["output_tokens"],
                total_cache_savings=usd(row["savings_nusd"]),
                updated_at=from_db_time(row["updated_at"]) if row["updated_at"] else None,
            )
            for row in rows
        ]

    async def top_users(
        self, period: str, *, limit: int, min_cost: float | None = None
    ) -> builtins.list[UserPeriodSpend]:
        """The first `limit` rows of the `(period, spend)` index above `min_cost`."""
        floor = nano(min_cost) if min_cost else 1
        rows = await self._db.fetch_all(
            "SELECT * FROM usage_periods WHERE period = ? AND spent_nusd >= ? "
            "ORDER BY spent_nusd DESC, user_id LIMIT ?",
            (period, floor, max(1, min(limit, _MAX_ROWS))),
        )
        return [
            UserPeriodSpend(
                user_id=UserId(row["user_id"]),
                period=period,
                total_cost=usd(row["spent_nusd"]),
                total_requests=row["requests"],
                tier_id=row["tier_id"],
                tier_name=row["tier_name"],
                quota_limit=usd(row["limit_nusd"]) if row["limit_nusd"] is not None else None,
                updated_at=from_db_time(row["updated_at"]) if row["updated_at"] else None,
            )
            for row in rows
        ]
