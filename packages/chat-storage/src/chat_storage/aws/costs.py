"""The cost ledger in DynamoDB: a record per message and monthly summaries, written in one transaction."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chat_core.costs import (
    CostBreakdown,
    CostRecord,
    ModelCostSummary,
    UserCostSummary,
    period_bounds,
    period_of,
    summarize_records,
)
from chat_core.errors import ConflictError
from chat_core.ids import UserId, validate_id
from chat_storage.aws._errors import call, transact
from chat_storage.aws._items import attrs_of, iso, key, query_all
from chat_storage.aws._tables import COSTS_BY_TIME
from chat_storage.aws.usage import read_settlement, settlement_items

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["DynamoCostLedger"]


def _pk(user_id: str) -> str:
    return f"USER#{user_id}"


def _number(value: float | int) -> dict[str, str]:
    """An exact DynamoDB number: floats go through their shortest repr, never binary noise."""
    return {"N": format(Decimal(str(value)), "f")}


_SETTLE_ATTEMPTS = 8
"""Reads and transactions before giving up when a user's usage keeps changing under a turn."""
_MODEL = "m."
"""Per-model totals live on the month item as `m.<field>.<modelId>`: one item holds the whole summary."""


def cost_items(table: str, entry: CostRecord) -> list[dict[str, Any]]:
    """The two transaction items of a cost record: its conditional put, and the `ADD`s on its month.

    The put is conditional on the record being new, so a message id is counted once.
    """
    validate_id(entry.user_id, field="userId")
    validate_id(entry.session_id, field="sessionId")
    validate_id(entry.message_id, field="messageId")
    pk = _pk(entry.user_id)
    period = period_of(entry.timestamp)
    usage = entry.usage
    tokens = {
        "totalInputTokens": usage.input_tokens,
        "totalOutputTokens": usage.output_tokens,
        "totalCacheReadTokens": usage.cache_read_input_tokens or 0,
        "totalCacheWriteTokens": usage.cache_write_input_tokens or 0,
    }
    month = {
        "totalCost": entry.cost.total_cost,
        "totalRequests": 1,
        "totalCacheSavings": entry.cache_savings,
    }
    per_model = {
        "inputCost": entry.cost.input_cost,
        "outputCost": entry.cost.output_cost,
        "cacheWriteCost": entry.cost.cache_write_cost,
        "cacheReadCost": entry.cost.cache_read_cost,
        "totalCost": entry.cost.total_cost,
        "requestCount": 1,
        **tokens,
    }
    amounts: dict[str, float | int] = {**month, **tokens}
    amounts |= {f"{_MODEL}{field}.{entry.model_id}": amount for field, amount in per_model.items()}
    names = {f"#a{number}": name for number, name in enumerate(amounts)}
    values: dict[str, Any] = {
        f":v{number}": _number(amount) for number, amount in enumerate(amounts.values())
    }
    names |= {
        "#name": f"{_MODEL}modelName.{entry.model_id}",
        "#provider": f"{_MODEL}provider.{entry.model_id}",
    }
    values |= {
        ":name": {"S": entry.model_name},
        ":provider": {"NULL": True} if entry.provider is None else {"S": entry.provider},
    }
    adds = ", ".join(f"#a{number} :v{number}" for number in range(len(amounts)))
    return [
        {
            "Put": {
                "TableName": table,
                "Item": key(pk, f"RECORD#{entry.message_id}")
                | {
                    "body": {"S": entry.model_dump_json(by_alias=True)},
                    "timestamp": {"S": iso(entry.timestamp)},
                },
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        },
        {
            "Update": {
                "TableName": table,
                "Key": key(pk, f"PERIOD#{period}"),
                "UpdateExpression": f"SET #name = :name, #provider = :provider ADD {adds}",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        },
    ]


class DynamoCostLedger:
    """`CostLedger` on DynamoDB.

    Per user partition `USER#{uid}`: records `RECORD#{messageId}` and one item per month
    `PERIOD#{YYYY-MM}` holding the totals and, flattened, the per-model totals. Recording is one
    transaction: a conditional put of the record (so a message id counts once) plus `ADD`s on the
    month item. Records carry their UTC `timestamp`, the sort key of the `by-time` index that date-range
    reports query (month items have none, so the index holds records only).
    """

    def __init__(self, client: DynamoDBClient, table: str, usage_table: str) -> None:
        self._client = client
        self._table = table
        self._usage_table = usage_table

    async def record(self, entry: CostRecord) -> bool:
        """Store the record and add it to the month's summary atomically; `False` if already recorded."""
        reservation = entry.quota.reservation_id if entry.quota is not None else None
        for _ in range(_SETTLE_ATTEMPTS):
            read = await read_settlement(
                self._client, self._usage_table, entry.user_id, entry.timestamp, reservation
            )
            counted = settlement_items(
                self._usage_table, entry, user_id=entry.user_id, reservation_id=reservation, read=read
            )
            result = await transact(
                "record a cost", self._client, [*cost_items(self._table, entry), *counted]
            )
            if result is None:
                return True
            if result.failed(0):
                return False
            # A concurrent turn of the same user moved their usage since it was read: read again.
        raise ConflictError("The user's usage kept changing; try again.")

    async def summary(self, user_id: UserId, period: str) -> UserCostSummary:
        """The user's `YYYY-MM` summary (zeros when nothing was spent): one GetItem."""
        validate_id(user_id, field="userId")
        start, end = period_bounds(period)
        response = await call(
            "read a cost summary",
            self._client.get_item(
                TableName=self._table, Key=key(_pk(user_id), f"PERIOD#{period}"), ConsistentRead=True
            ),
        )
        month = attrs_of(response.get("Item") or {})
        by_model: dict[str, dict[str, Any]] = {}
        for name, value in month.items():
            if name.startswith(_MODEL):
                _, field, model_id = name.split(".", 2)
                by_model.setdefault(model_id, {})[field] = value
        models = [
            ModelCostSummary(
                model_id=model_id,
                model_name=totals.get("modelName", model_id),
                provider=totals.get("provider"),
                total_input_tokens=totals.get("totalInputTokens", 0),
                total_output_tokens=totals.get("totalOutputTokens", 0),
                total_cache_read_tokens=totals.get("totalCacheReadTokens", 0),
                total_cache_write_tokens=totals.get("totalCacheWriteTokens", 0),
                cost_breakdown=CostBreakdown(
                    input_cost=totals.get("inputCost", 0.0),
                    output_cost=totals.get("outputCost", 0.0),
                    cache_write_cost=totals.get("cacheWriteCost", 0.0),
                    cache_read_cost=totals.get("cacheReadCost", 0.0),
                    total_cost=totals.get("totalCost", 0.0),
                ),
                request_count=totals.get("requestCount", 0),
            )
            for model_id, totals in by_model.items()
        ]
        models.sort(key=lambda model: (-model.cost_breakdown.total_cost, model.model_id))
        return UserCostSummary(
            user_id=user_id,
            period_start=start,
            period_end=end,
            total_cost=month.get("totalCost", 0.0),
            models=models,
            total_requests=month.get("totalRequests", 0),
            total_input_tokens=month.get("totalInputTokens", 0),
            total_output_tokens=month.get("totalOutputTokens", 0),
            total_cache_read_tokens=month.get("totalCacheReadTokens", 0),
            total_cache_write_tokens=month.get("totalCacheWriteTokens", 0),
            total_cache_savings=month.get("totalCacheSavings", 0.0),
        )

    async def report(self, user_id: UserId, start: date, end: date) -> UserCostSummary:
        """The user's spend from `start` to `end` inclusive (UTC days): a Query of the `by-time` index.

        A timestamp is ISO text starting with its date, so the day after `end` (a bare date, which no
        timestamp equals) closes the range.
        """
        validate_id(user_id, field="userId")
        items = await query_all(
            self._client,
            "read cost records",
            {
                "TableName": self._table,
                "IndexName": COSTS_BY_TIME.name,
                "KeyConditionExpression": "PK = :pk AND #at BETWEEN :start AND :end",
                "ExpressionAttributeNames": {"#at": COSTS_BY_TIME.sort},
                "ExpressionAttributeValues": {
                    ":pk": {"S": _pk(user_id)},
                    ":start": {"S": start.isoformat()},
                    ":end": {"S": (end + timedelta(days=1)).isoformat()},
                },
                "ProjectionExpression": "body",
            },
        )
        records = [CostRecord.model_validate_json(item["body"]["S"]) for item in items]
        return summarize_records(user_id, start, end, records)
