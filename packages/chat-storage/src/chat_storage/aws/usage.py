"""Per-user spend, reservations, cost rollups and rate-limit counters in DynamoDB (the `usage` table).

| item | PK | SK | attributes |
|---|---|---|---|
| a user's period | `USER#{uid}` | `DAY#{YYYY-MM-DD}`, `MONTH#{YYYY-MM}` | `spent`, `reserved`, `claimed` (= spent + reserved), `requests`, tier, `models`/`tiers` sets; `spendPk` = `SPEND#{period}` once billed (index `by-spend`, numeric sort `spent`) |
| a reservation | `USER#{uid}` | `RES#{id}` | `amount`, `day`, `month`, `expiresAt` |
| a period's rollup | `ROLLUP#{period}` | `SHARD#{0-7}` (by user) | totals; per model `m.<field>.<modelId>`; per tier `t.<field>.<tierId>` |
| a rate counter | `RATE#{key}` | `RATE` | `count`, `expiresAt`, `ttl` |
| a sliding-window rate counter | `RATE#{key}` | `WINDOW` | `window`, `count`, `previous`, `ttl` |

A turn is counted by `settlement_items`, added to the transaction that stores its cost record. They
are computed from a consistent read of the user's day and month items and the reservation
(`read_settlement`), which tells whether this is the user's first billed turn of the period, of the
model or of the tier (distinct-user counts) and where their spend stood (soft-limit and limit
crossings). Those decisions, and only those, are conditions on the user's items (`_guard`): a
concurrent turn that changed one cancels the transaction, which is read and tried again.

Admission is conditional on `claimed` (DynamoDB conditions cannot add two attributes): a reservation
`ADD`s to `claimed` only while it is below the limit. Every report is keyed: one Query per period
(its `ROLLUP_SHARDS` items), BatchGetItem of the days of a range, the first rows of the `by-spend`
index. Each user's turns add to one shard of the period, so concurrent turns of different users
seldom write the same rollup item.
"""

from __future__ import annotations

import builtins
import hashlib
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from chat_core.costs import CostRecord, ModelRollup, PeriodRollup, TierRollup, UserPeriodSpend
from chat_core.errors import InvalidInputError, UnavailableError
from chat_core.ids import UserId, validate_id
from chat_core.ports import WindowCounts
from chat_core.quotas import PeriodUsage, QuotaStamp, UsageSnapshot, day_of, month_of
from chat_storage.aws._errors import Rejected, call, conditional, transact
from chat_storage.aws._items import Item, attrs_of, batch_get, iso, key, query_all
from chat_storage.aws._tables import USAGE_BY_SPEND

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = [
    "DynamoRateLimitCounters",
    "DynamoUsageLedger",
    "SettlementRead",
    "read_settlement",
    "settlement_items",
]

_MAX_ROWS: Final = 1000
_ATTEMPTS: Final = 8
_RATE_KEY_MAX: Final = 256


def _n(value: float | int | Decimal) -> dict[str, str]:
    return {"N": format(Decimal(str(value)), "f")}


def _user(user_id: str) -> str:
    return f"USER#{user_id}"


def _day_key(day: str) -> str:
    return f"DAY#{day}"


def _month_key(month: str) -> str:
    return f"MONTH#{month}"


def _number(attrs: dict[str, Any] | None, name: str) -> float:
    return float((attrs or {}).get(name, 0) or 0)


@dataclass(frozen=True, slots=True)
class SettlementRead:
    """What settling a turn reads first: its reservation and the user's day and month items."""

    reservation: dict[str, Any] | None
    day: dict[str, Any] | None
    month: dict[str, Any] | None


async def read_settlement(
    client: DynamoDBClient, table: str, user_id: str, at: datetime, reservation_id: str | None
) -> SettlementRead:
    """One consistent BatchGetItem of the items `settlement_items` decides from."""
    partition = _user(user_id)
    day_sk, month_sk = _day_key(day_of(at).isoformat()), _month_key(month_of(at))
    keys = [key(partition, day_sk), key(partition, month_sk)]
    if reservation_id is not None:
        keys.append(key(partition, f"RES#{reservation_id}"))
    found = {
        item["SK"]["S"]: attrs_of(item)
        for item in await batch_get(client, "read a user's usage", table, keys)
    }
    return SettlementRead(
        reservation=found.get(f"RES#{reservation_id}") if reservation_id is not None else None,
        day=found.get(day_sk),
        month=found.get(month_sk),
    )


class _Update:
    """One UpdateItem of a transaction, its expression built from named parts."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self.adds: list[str] = []
        self.sets: list[str] = []

    def _name(self, name: str) -> str:
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = name
        return placeholder

    def value(self, value: dict[str, Any]) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def add(self, name: str, amount: float | int | Decimal) -> None:
        self.adds.append(f"{self._name(name)} {self.value(_n(amount))}")

    def add_set(self, name: str, member: str) -> None:
        self.adds.append(f"{self._name(name)} {self.value({'SS': [member]})}")

    def set(self, name: str, value: dict[str, Any]) -> None:
        self.sets.append(f"{self._name(name)} = {self.value(value)}")

    def item(self, table: str, item_key: Item, condition: str | None = None) -> dict[str, Any]:
        expression = " ".join(
            part
            for part in (
                f"SET {', '.join(self.sets)}" if self.sets else "",
                f"ADD {', '.join(self.adds)}" if self.adds else "",
            )
            if part
        )
        update: dict[str, Any] = {
            "TableName": table,
            "Key": item_key,
            "UpdateExpression": expression,
            "ExpressionAttributeNames": self.names,
        }
        if self.values:
            update["ExpressionAttributeValues"] = self.values
        if condition is not None:
            update["ConditionExpression"] = condition
        return {"Update": update}


def _crossed(before: float, cost: float, threshold: float | None) -> int:
    return 1 if threshold is not None and before < threshold <= before + cost else 0


ROLLUP_SHARDS: Final = 8
"""Each period's rollup is spread over this many items (by user), so concurrent turns of different
users rarely write the same item in their transactions; a report reads them all (one Query)."""


def rollup_key(period: str, user_id: str) -> Item:
    """The rollup item of `period` that `user_id`'s turns add to.

    A user always adds to the same shard, so distinct users counted per shard add up.
    """
    shard = int(hashlib.sha256(user_id.encode()).hexdigest()[:8], 16) % ROLLUP_SHARDS
    return key(f"ROLLUP#{period}", f"SHARD#{shard}")


def _thresholds(stamp: QuotaStamp | None) -> list[float]:
    if stamp is None or not stamp.tier_id or stamp.monthly_limit is None:
        return []
    return [stamp.monthly_limit * stamp.soft_limit_percentage / 100, stamp.monthly_limit]


def _guard(
    update: _Update,
    before: dict[str, Any] | None,
    entry: CostRecord,
    stamp: QuotaStamp | None,
    *,
    month_item: bool,
) -> str | None:
    """The conditions under which what was read still decides this turn's counts.

    Only decisions that a concurrent turn of the same user could change are guarded: being the
    first billed turn of the period (or of a model or tier in it) and crossing a tier threshold.
    Once a user is counted and past a threshold nothing is conditional, so busy users do not retry.
    """
    parts: list[str] = []
    if int((before or {}).get("requests", 0) or 0) == 0:
        parts.append(f"attribute_not_exists({update._name('requests')})")
    if month_item:
        if entry.model_id not in set((before or {}).get("models", set())):
            models = update._name("models")
            parts.append(f"NOT contains({models}, {update.value({'S': entry.model_id})})")
        known_tiers = set((before or {}).get("tiers", set()))
        if stamp is not None and stamp.tier_id and stamp.tier_id not in known_tiers:
            tiers = update._name("tiers")
            parts.append(f"NOT contains({tiers}, {update.value({'S': stamp.tier_id})})")
        spent_before = _number(before, "spent")
        cost = float(entry.cost.total_cost)
        for threshold in _thresholds(stamp):
            if spent_before >= threshold:
                continue
            bound = threshold if spent_before + cost >= threshold else threshold - cost
            spent = update._name("spent")
            parts.append(f"(attribute_not_exists({spent}) OR {spent} < {update.value(_n(round(bound, 9)))})")
    return " AND ".join(parts) or None


def settlement_items(
    table: str, entry: CostRecord | None, *, user_id: str, reservation_id: str | None, read: SettlementRead
) -> list[dict[str, Any]]:
    """The transaction items that count a turn (see the module's docstring).

    They release the reservation (if it is still there), and for a billed turn (`entry`) add its
    cost to the user's day and month and to the two periods' rollups.
    """
    partition = _user(user_id)
    deltas: dict[str, dict[str, Decimal]] = {}
    items: list[dict[str, Any]] = []
    reservation = read.reservation
    if reservation is not None and reservation_id is not None:
        amount = Decimal(str(reservation["amount"]))
        for sort in (_day_key(reservation["day"]), _month_key(reservation["month"])):
            period = deltas.setdefault(sort, {})
            period["reserved"] = period.get("reserved", Decimal(0)) - amount
            period["claimed"] = period.get("claimed", Decimal(0)) - amount
        items.append(
            {
                "Delete": {
                    "TableName": table,
                    "Key": key(partition, f"RES#{reservation_id}"),
                    "ConditionExpression": "attribute_exists(PK)",
                }
            }
        )
    if entry is None:
        for sort, changes in deltas.items():
            update = _Update()
            for name, amount in changes.items():
                update.add(name, amount)
            items.append(update.item(table, key(partition, sort)))
        return items

    stamp = entry.quota
    cost = Decimal(str(entry.cost.total_cost))
    day, month = day_of(entry.timestamp).isoformat(), month_of(entry.timestamp)
    at = {"S": iso(entry.timestamp)}
    billed = {_day_key(day): (day, read.day), _month_key(month): (month, read.month)}
    for sort in billed:
        period = deltas.setdefault(sort, {})
        period["spent"] = period.get("spent", Decimal(0)) + cost
        period["claimed"] = period.get("claimed", Decimal(0)) + cost
    for sort, changes in deltas.items():
        update = _Update()
        for name, amount in changes.items():
            update.add(name, amount)
        condition: str | None = None
        if sort in billed:
            period_name, before = billed[sort]
            update.add("requests", 1)
            update.set("updatedAt", at)
            update.set(USAGE_BY_SPEND.partition, {"S": f"SPEND#{period_name}"})
            update.set("tierId", {"S": stamp.tier_id if stamp else ""})
            update.set("tierName", {"S": stamp.tier_name if stamp else ""})
            limit = stamp.monthly_limit if stamp else None
            update.set("quotaLimit", _n(limit) if limit is not None else {"NULL": True})
            if sort.startswith("MONTH#"):
                update.add_set("models", entry.model_id)
                if stamp is not None and stamp.tier_id:
                    update.add_set("tiers", stamp.tier_id)
            condition = _guard(update, before, entry, stamp, month_item=sort.startswith("MONTH#"))
        items.append(update.item(table, key(partition, sort), condition))

    for period_name, before in ((day, read.day), (month, read.month)):
        update = _Update()
        update.add("totalCost", cost)
        update.add("totalRequests", 1)
        update.add("inputTokens", entry.usage.input_tokens)
        update.add("outputTokens", entry.usage.output_tokens)
        update.add("cacheSavings", Decimal(str(entry.cache_savings)))
        update.set("updatedAt", at)
        if int((before or {}).get("requests", 0) or 0) == 0:
            update.add("activeUsers", 1)
        model = entry.model_id
        update.add(f"m.cost.{model}", cost)
        update.add(f"m.requests.{model}", 1)
        update.add(f"m.input.{model}", entry.usage.input_tokens)
        update.add(f"m.output.{model}", entry.usage.output_tokens)
        update.set(f"m.name.{model}", {"S": entry.model_name})
        update.set(f"m.provider.{model}", {"S": entry.provider} if entry.provider else {"NULL": True})
        if period_name == month:
            if model not in set((before or {}).get("models", set())):
                update.add(f"m.users.{model}", 1)
            if stamp is not None and stamp.tier_id:
                tier = stamp.tier_id
                spent_before = _number(before, "spent")
                limit = stamp.monthly_limit
                soft = limit * stamp.soft_limit_percentage / 100 if limit is not None else None
                update.add(f"t.cost.{tier}", cost)
                update.add(f"t.requests.{tier}", 1)
                if tier not in set((before or {}).get("tiers", set())):
                    update.add(f"t.users.{tier}", 1)
                update.add(f"t.warned.{tier}", _crossed(spent_before, float(cost), soft))
                update.add(f"t.atLimit.{tier}", _crossed(spent_before, float(cost), limit))
                update.add(f"t.util.{tier}", cost / Decimal(str(limit)) if limit else 0)
                update.set(f"t.name.{tier}", {"S": stamp.tier_name})
        items.append(update.item(table, rollup_key(period_name, user_id)))
    return items


def _summed(shards: list[dict[str, Any]]) -> dict[str, Any]:
    """The shards of a period's rollup as one: numbers add up, names are kept."""
    total: dict[str, Any] = {}
    for attrs in shards:
        for name, value in attrs.items():
            if name in ("PK", "SK"):
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                total[name] = total.get(name, 0) + value
            elif name == "updatedAt":
                total[name] = max(total.get(name, value), value)
            else:
                total[name] = value
    return total


def _rollup(period: str, attrs: dict[str, Any]) -> PeriodRollup:
    models: dict[str, dict[str, Any]] = {}
    tiers: dict[str, dict[str, Any]] = {}
    for name, value in attrs.items():
        if name.startswith(("m.", "t.")):
            scope, field, item = name.split(".", 2)
            (models if scope == "m" else tiers).setdefault(item, {})[field] = value
    updated = attrs.get("updatedAt")
    return PeriodRollup(
        period=period,
        total_cost=float(attrs.get("totalCost", 0)),
        total_requests=int(attrs.get("totalRequests", 0)),
        active_users=int(attrs.get("activeUsers", 0)),
        total_input_tokens=int(attrs.get("inputTokens", 0)),
        total_output_tokens=int(attrs.get("outputTokens", 0)),
        total_cache_savings=float(attrs.get("cacheSavings", 0)),
        updated_at=datetime.fromisoformat(updated) if updated else None,
        models=sorted(
            (
                ModelRollup(
                    model_id=model_id,
                    model_name=values.get("name") or model_id,
                    provider=values.get("provider"),
                    total_cost=float(values.get("cost", 0)),
                    total_requests=int(values.get("requests", 0)),
                    unique_users=int(values.get("users", 0)),
                    total_input_tokens=int(values.get("input", 0)),
                    total_output_tokens=int(values.get("output", 0)),
                )
                for model_id, values in models.items()
            ),
            key=lambda model: (-model.total_cost, model.model_id),
        ),
        tiers=sorted(
            (
                TierRollup(
                    tier_id=tier_id,
                    tier_name=values.get("name") or tier_id,
                    total_cost=float(values.get("cost", 0)),
                    total_users=int(values.get("users", 0)),
                    users_warned=int(values.get("warned", 0)),
                    users_at_limit=int(values.get("atLimit", 0)),
                    utilization_sum=float(values.get("util", 0)),
                )
                for tier_id, values in tiers.items()
            ),
            key=lambda tier: (-tier.total_cost, tier.tier_id),
        ),
    )


class DynamoUsageLedger:
    """`UsageLedger` on DynamoDB (see the module's docstring)."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    async def _periods(self, user_id: str, day: str, month: str) -> UsageSnapshot:
        partition = _user(user_id)
        items = await batch_get(
            self._client,
            "read a user's usage",
            self._table,
            [key(partition, _day_key(day)), key(partition, _month_key(month))],
        )
        found = {item["SK"]["S"]: attrs_of(item) for item in items}

        def usage(sort: str) -> PeriodUsage:
            attrs = found.get(sort)
            return PeriodUsage(_number(attrs, "spent"), max(0.0, _number(attrs, "reserved")))

        return UsageSnapshot(
            day=date.fromisoformat(day),
            month=month,
            daily=usage(_day_key(day)),
            monthly=usage(_month_key(month)),
        )

    async def usage(self, user_id: UserId, *, at: datetime) -> UsageSnapshot:
        """Spent and reserved USD of the user's UTC day and month (one BatchGetItem)."""
        return await self._periods(validate_id(user_id, field="userId"), day_of(at).isoformat(), month_of(at))

    async def _sweep(self, user_id: str, at: datetime) -> None:
        """Release the user's expired reservations (left by turns that never finished)."""
        partition = _user(user_id)
        found = await query_all(
            self._client,
            "read reservations",
            {
                "TableName": self._table,
                "KeyConditionExpression": "PK = :pk AND begins_with(SK, :res)",
                "ExpressionAttributeValues": {":pk": {"S": partition}, ":res": {"S": "RES#"}},
                "ConsistentRead": True,
            },
        )
        for item in found:
            attrs = attrs_of(item)
            if attrs["expiresAt"] > iso(at):
                continue
            read = SettlementRead(reservation=attrs, day=None, month=None)
            reservation_id = attrs["SK"].removeprefix("RES#")
            items = settlement_items(
                self._table, None, user_id=user_id, reservation_id=reservation_id, read=read
            )
            await transact("release an expired reservation", self._client, items)  # gone meanwhile: fine

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
        """Release expired reservations, then reserve `amount` where `claimed` is below each limit."""
        validate_id(user_id, field="userId")
        validate_id(reservation_id, field="reservationId")
        day, month = day_of(at).isoformat(), month_of(at)
        await self._sweep(user_id, at)
        snapshot = await self._periods(user_id, day, month)
        admitted = all(
            counted.spent + counted.reserved < limit
            for counted, limit in ((snapshot.daily, daily_limit), (snapshot.monthly, monthly_limit))
            if limit is not None
        )
        if not admitted or amount <= 0:
            return admitted, snapshot
        partition = _user(user_id)
        items: list[dict[str, Any]] = []
        for sort, limit in ((_day_key(day), daily_limit), (_month_key(month), monthly_limit)):
            update = _Update()
            update.add("reserved", amount)
            update.add("claimed", amount)
            condition = None
            if limit is not None:
                claimed = update._name("claimed")
                condition = f"attribute_not_exists({claimed}) OR {claimed} < {update.value(_n(limit))}"
            items.append(update.item(self._table, key(partition, sort), condition))
        items.append(
            {
                "Put": {
                    "TableName": self._table,
                    "Item": key(partition, f"RES#{reservation_id}")
                    | {
                        "amount": _n(amount),
                        "day": {"S": day},
                        "month": {"S": month},
                        "expiresAt": {"S": iso(expires_at)},
                    },
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        )
        rejected = await transact("reserve a turn's cost", self._client, items)
        if rejected is not None:  # another turn claimed the rest meanwhile
            return False, await self._periods(user_id, day, month)
        return True, snapshot

    async def release(self, user_id: UserId, reservation_id: str) -> bool:
        """Give a reservation back; `False` if it was gone."""
        validate_id(user_id, field="userId")
        for _ in range(_ATTEMPTS):
            read = await read_settlement(
                self._client, self._table, user_id, datetime.now().astimezone(), reservation_id
            )
            if read.reservation is None:
                return False
            items = settlement_items(
                self._table, None, user_id=user_id, reservation_id=reservation_id, read=read
            )
            if await transact("release a reservation", self._client, items) is None:
                return True
        return False

    async def rollup(self, period: str) -> PeriodRollup:
        """One Query of the period's rollup shards, summed."""
        items = await query_all(
            self._client,
            "read a cost rollup",
            {
                "TableName": self._table,
                "KeyConditionExpression": "PK = :pk",
                "ExpressionAttributeValues": {":pk": {"S": f"ROLLUP#{period}"}},
                "ConsistentRead": True,
            },
        )
        return _rollup(period, _summed([attrs_of(item) for item in items]))

    async def daily_rollups(self, start: date, end: date) -> builtins.list[PeriodRollup]:
        """The totals of each day in range (BatchGetItem of each day's shards, totals only)."""
        days = [(start + timedelta(days=offset)).isoformat() for offset in range((end - start).days + 1)]
        keys = [key(f"ROLLUP#{day}", f"SHARD#{shard}") for day in days for shard in range(ROLLUP_SHARDS)]
        by_day: dict[str, list[dict[str, Any]]] = {}
        for item in await batch_get(self._client, "read cost rollups", self._table, keys):
            attrs = attrs_of(item)
            totals = {name: value for name, value in attrs.items() if not name.startswith(("m.", "t."))}
            by_day.setdefault(item["PK"]["S"].removeprefix("ROLLUP#"), []).append(totals)
        return [_rollup(day, _summed(by_day[day])) for day in days if day in by_day]

    async def top_users(
        self, period: str, *, limit: int, min_cost: float | None = None
    ) -> builtins.list[UserPeriodSpend]:
        """The first `limit` rows of the `by-spend` index for the period, highest spend first."""
        response = await call(
            "read top users",
            self._client.query(
                TableName=self._table,
                IndexName=USAGE_BY_SPEND.name,
                KeyConditionExpression="#pk = :pk AND #spent >= :min",
                ExpressionAttributeNames={"#pk": USAGE_BY_SPEND.partition, "#spent": USAGE_BY_SPEND.sort},
                ExpressionAttributeValues={":pk": {"S": f"SPEND#{period}"}, ":min": _n(min_cost or 1e-9)},
                ScanIndexForward=False,
                Limit=max(1, min(limit, _MAX_ROWS)),
            ),
        )
        rows = []
        for item in response.get("Items", []):
            attrs = attrs_of(item)
            updated = attrs.get("updatedAt")
            limit_value = attrs.get("quotaLimit")
            rows.append(
                UserPeriodSpend(
                    user_id=UserId(attrs["PK"].removeprefix("USER#")),
                    period=period,
                    total_cost=float(attrs.get("spent", 0)),
                    total_requests=int(attrs.get("requests", 0)),
                    tier_id=attrs.get("tierId", ""),
                    tier_name=attrs.get("tierName", ""),
                    quota_limit=float(limit_value) if limit_value is not None else None,
                    updated_at=datetime.fromisoformat(updated) if updated else None,
                )
            )
        return rows


def _rate_key(key_name: str) -> Item:
    if not key_name or len(key_name) > _RATE_KEY_MAX:
        raise InvalidInputError(f"A rate-limit key must be 1 to {_RATE_KEY_MAX} characters.", field="key")
    return key(f"RATE#{key_name}", "RATE")


def _window_key(key_name: str) -> Item:
    _rate_key(key_name)
    return key(f"RATE#{key_name}", "WINDOW")


def _window_counts(attrs: dict[str, Any]) -> WindowCounts:
    return WindowCounts(previous=int(attrs.get("previous", 0)), current=int(attrs.get("count", 0)))


_WINDOW_NAMES: Final = {"#window": "window", "#count": "count", "#previous": "previous", "#ttl": "ttl"}


class DynamoRateLimitCounters:
    """`RateLimitCounters` on DynamoDB: conditional `ADD`s on one item per key (TTL cleans up)."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add to a live counter, or restart an absent or expired one, atomically."""
        item_key = _rate_key(key)
        for _ in range(_ATTEMPTS):
            now = time.time()
            added = await conditional(
                "count a request",
                self._client.update_item(
                    TableName=self._table,
                    Key=item_key,
                    UpdateExpression="ADD #count :amount",
                    ConditionExpression="#expires > :now",
                    ExpressionAttributeNames={"#count": "count", "#expires": "expiresAt"},
                    ExpressionAttributeValues={":amount": _n(amount), ":now": _n(now)},
                    ReturnValues="UPDATED_NEW",
                ),
            )
            if not isinstance(added, Rejected):
                return int(added["Attributes"]["count"]["N"])
            started = await conditional(
                "start a request counter",
                self._client.update_item(
                    TableName=self._table,
                    Key=item_key,
                    UpdateExpression="SET #count = :amount, #expires = :expires, #ttl = :ttl",
                    ConditionExpression="attribute_not_exists(PK) OR #expires <= :now",
                    ExpressionAttributeNames={"#count": "count", "#expires": "expiresAt", "#ttl": "ttl"},
                    ExpressionAttributeValues={
                        ":amount": _n(amount),
                        ":expires": _n(round(now + expiry, 6)),
                        ":ttl": _n(int(now + expiry) + 3600),
                        ":now": _n(now),
                    },
                ),
            )
            if not isinstance(started, Rejected):
                return amount
        raise UnavailableError("Storage is unavailable: a request counter kept changing.")

    async def add_to_window(
        self, key: str, window: int, window_seconds: int, amount: int = 1
    ) -> WindowCounts:
        """One `ADD` returning both windows; the first request of a window rotates the item first."""
        item_key = _window_key(key)
        for _ in range(_ATTEMPTS):
            added = await conditional(
                "count a request",
                self._client.update_item(
                    TableName=self._table,
                    Key=item_key,
                    UpdateExpression="ADD #count :amount",
                    ConditionExpression="#window >= :window",
                    ExpressionAttributeNames={"#window": "window", "#count": "count"},
                    ExpressionAttributeValues={":amount": _n(amount), ":window": _n(window)},
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                ),
            )
            if not isinstance(added, Rejected):
                return _window_counts(attrs_of(added["Attributes"]))
            stored = attrs_of(added.old_item() or {})
            previous = int(stored["count"]) if stored and int(stored["window"]) == window - 1 else 0
            rotated = await conditional(
                "start a request window",
                self._client.update_item(
                    TableName=self._table,
                    Key=item_key,
                    UpdateExpression="SET #window = :window, #count = :amount, #previous = :previous, #ttl = :ttl",
                    ConditionExpression="#window = :seen" if stored else "attribute_not_exists(PK)",
                    ExpressionAttributeNames=_WINDOW_NAMES,
                    ExpressionAttributeValues={
                        ":window": _n(window),
                        ":amount": _n(amount),
                        ":previous": _n(previous),
                        ":ttl": _n((window + 2) * window_seconds + 3600),
                    }
                    | ({":seen": _n(int(stored["window"]))} if stored else {}),
                ),
            )
            if not isinstance(rotated, Rejected):
                return WindowCounts(previous=previous, current=amount)
        raise UnavailableError("Storage is unavailable: a request counter kept changing.")

    async def take_from_window(self, key: str, window: int, amount: int = 1) -> int:
        """Take `amount` back from `window` while it is the item's current one (never below 0)."""
        item_key = _window_key(key)
        taken = await conditional(
            "uncount a request",
            self._client.update_item(
                TableName=self._table,
                Key=item_key,
                UpdateExpression="ADD #count :minus",
                ConditionExpression="#window = :window AND #count >= :amount",
                ExpressionAttributeNames={"#window": "window", "#count": "count"},
                ExpressionAttributeValues={
                    ":minus": _n(-amount),
                    ":amount": _n(amount),
                    ":window": _n(window),
                },
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ),
        )
        if not isinstance(taken, Rejected):
            return int(taken["Attributes"]["count"]["N"])
        stored = attrs_of(taken.old_item() or {})
        if not stored or int(stored["window"]) != window:
            return int(stored.get("count", 0))
        await conditional(  # fewer than `amount` left in this window: it goes to 0
            "uncount a request",
            self._client.update_item(
                TableName=self._table,
                Key=item_key,
                UpdateExpression="SET #count = :zero",
                ConditionExpression="#window = :window",
                ExpressionAttributeNames={"#window": "window", "#count": "count"},
                ExpressionAttributeValues={":zero": _n(0), ":window": _n(window)},
            ),
        )
        return 0

    async def decr(self, key: str, amount: int = 1) -> int:
        """Take `amount` back (a counter below `amount` is set to 0)."""
        item_key = _rate_key(key)
        taken = await conditional(
            "uncount a request",
            self._client.update_item(
                TableName=self._table,
                Key=item_key,
                UpdateExpression="ADD #count :minus",
                ConditionExpression="#count >= :amount",
                ExpressionAttributeNames={"#count": "count"},
                ExpressionAttributeValues={":minus": _n(-amount), ":amount": _n(amount)},
                ReturnValues="UPDATED_NEW",
            ),
        )
        if not isinstance(taken, Rejected):
            return int(taken["Attributes"]["count"]["N"])
        await conditional(
            "uncount a request",
            self._client.update_item(
                TableName=self._table,
                Key=item_key,
                UpdateExpression="SET #count = :zero",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames={"#count": "count"},
                ExpressionAttributeValues={":zero": _n(0)},
            ),
        )
        return 0

    async def _live(self, key: str) -> dict[str, Any] | None:
        response = await call(
            "read a request counter",
            self._client.get_item(TableName=self._table, Key=_rate_key(key), ConsistentRead=True),
        )
        attrs = attrs_of(response.get("Item") or {})
        return attrs if attrs and float(attrs["expiresAt"]) > time.time() else None

    async def get(self, key: str) -> int:
        """The live counter (0 if absent or expired)."""
        attrs = await self._live(key)
        return int(attrs["count"]) if attrs else 0

    async def expires_at(self, key: str) -> float:
        """When the counter expires (now when absent or expired)."""
        attrs = await self._live(key)
        return float(attrs["expiresAt"]) if attrs else time.time()

    async def clear(self, key: str) -> None:
        """Remove the counter."""
        await call(
            "clear a request counter", self._client.delete_item(TableName=self._table, Key=_rate_key(key))
        )
