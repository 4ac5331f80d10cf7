"""Quota tiers, assignments, overrides and events in DynamoDB (the `quotas` table).

| item | PK | SK | indexes |
|---|---|---|---|
| tier | `TIER` | tier id | |
| assignment | `ASSIGNMENT` | assignment id | |
| override | `OVERRIDE` | override id | `overrides-by-user` (`USER#{uid}`, `{validUntil}#{id}`), `overrides-by-end` (`OVERRIDE`, same) |
| event | `EVENTS#{YYYY-MM}` | `{timestamp}#{id}` | `events-by-user` (`USER#{uid}`), `events-by-tier` (`TIER#{id}`), sort `{timestamp}#{id}` |
| event id | `EVENTID#{id}` | `EVENTID` | (makes an event id count once) |

Tiers and assignments are small catalogues: one Query each. Events are partitioned by month, so the
newest are one Query of the current month (then the months before, at most `_EVENT_MONTHS`).
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chat_core.errors import ConflictError
from chat_core.ids import UserId, validate_id
from chat_core.quotas import QuotaAssignment, QuotaEvent, QuotaEventType, QuotaOverride, QuotaTier, month_of
from chat_storage.aws._errors import Rejected, call, conditional, transact
from chat_storage.aws._items import iso, key, query_all
from chat_storage.aws._tables import EVENTS_BY_TIER, EVENTS_BY_USER, OVERRIDES_BY_END, OVERRIDES_BY_USER

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["DynamoQuotaRepository"]

_EVENT_MONTHS = 12
"""How many months back an unfiltered event listing looks."""
_MAX_LIST = 1000


def _body(item: dict[str, Any]) -> str:
    return str(item["body"]["S"])


def _months_back(start: datetime, count: int) -> list[str]:
    year, month = start.year, start.month
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months


class DynamoQuotaRepository:
    """`QuotaRepository` on DynamoDB (see the module's docstring)."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    async def _get(self, partition: str, sort: str, action: str) -> str | None:
        response = await call(
            action,
            self._client.get_item(TableName=self._table, Key=key(partition, sort), ConsistentRead=True),
        )
        item = response.get("Item")
        return _body(item) if item else None

    async def _list(self, partition: str, action: str) -> list[str]:
        items = await query_all(
            self._client,
            action,
            {
                "TableName": self._table,
                "KeyConditionExpression": "PK = :pk",
                "ExpressionAttributeValues": {":pk": {"S": partition}},
                "ConsistentRead": True,
            },
        )
        return [_body(item) for item in items]

    async def _put(self, item: dict[str, Any], action: str) -> None:
        await call(action, self._client.put_item(TableName=self._table, Item=item))

    async def _delete(self, partition: str, sort: str, action: str) -> bool:
        response = await call(
            action,
            self._client.delete_item(TableName=self._table, Key=key(partition, sort), ReturnValues="ALL_OLD"),
        )
        return bool(response.get("Attributes"))

    async def get_tier(self, tier_id: str) -> QuotaTier | None:
        """One tier."""
        body = await self._get("TIER", validate_id(tier_id, field="tierId"), "read a quota tier")
        return QuotaTier.model_validate_json(body) if body else None

    async def list_tiers(self) -> builtins.list[QuotaTier]:
        """Every tier, by id (one Query)."""
        return [QuotaTier.model_validate_json(body) for body in await self._list("TIER", "list quota tiers")]

    async def create_tier(self, tier: QuotaTier) -> QuotaTier:
        """Add a tier; `ConflictError` when its id is taken."""
        result = await conditional(
            "create a quota tier",
            self._client.put_item(
                TableName=self._table,
                Item=key("TIER", tier.tier_id) | {"body": {"S": tier.model_dump_json(by_alias=True)}},
                ConditionExpression="attribute_not_exists(PK)",
            ),
        )
        if isinstance(result, Rejected):
            raise ConflictError(f"A tier with id {tier.tier_id!r} already exists.", field="tierId")
        return tier

    async def put_tier(self, tier: QuotaTier) -> QuotaTier:
        """Create or replace a tier."""
        await self._put(
            key("TIER", tier.tier_id) | {"body": {"S": tier.model_dump_json(by_alias=True)}},
            "save a quota tier",
        )
        return tier

    async def delete_tier(self, tier_id: str) -> bool:
        """Remove a tier; `False` when it was missing."""
        return await self._delete("TIER", validate_id(tier_id, field="tierId"), "delete a quota tier")

    async def get_assignment(self, assignment_id: str) -> QuotaAssignment | None:
        """One assignment."""
        body = await self._get(
            "ASSIGNMENT", validate_id(assignment_id, field="assignmentId"), "read a quota assignment"
        )
        return QuotaAssignment.model_validate_json(body) if body else None

    async def list_assignments(self) -> builtins.list[QuotaAssignment]:
        """Every assignment, by id (one Query)."""
        bodies = await self._list("ASSIGNMENT", "list quota assignments")
        return [QuotaAssignment.model_validate_json(body) for body in bodies]

    async def put_assignment(self, assignment: QuotaAssignment) -> QuotaAssignment:
        """Create or replace an assignment."""
        item = key("ASSIGNMENT", validate_id(assignment.assignment_id, field="assignmentId"))
        await self._put(
            item | {"body": {"S": assignment.model_dump_json(by_alias=True)}}, "save a quota assignment"
        )
        return assignment

    async def delete_assignment(self, assignment_id: str) -> bool:
        """Remove an assignment; `False` when it was missing."""
        return await self._delete(
            "ASSIGNMENT", validate_id(assignment_id, field="assignmentId"), "delete a quota assignment"
        )

    async def get_override(self, override_id: str) -> QuotaOverride | None:
        """One override."""
        body = await self._get(
            "OVERRIDE", validate_id(override_id, field="overrideId"), "read a quota override"
        )
        return QuotaOverride.model_validate_json(body) if body else None

    async def list_overrides(
        self, *, user_id: UserId | None = None, limit: int = 200
    ) -> builtins.list[QuotaOverride]:
        """Overrides (of one user), latest ending first: one index Query."""
        index, partition = (
            (OVERRIDES_BY_END, "OVERRIDE")
            if user_id is None
            else (OVERRIDES_BY_USER, f"USER#{validate_id(user_id, field='userId')}")
        )
        response = await call(
            "list quota overrides",
            self._client.query(
                TableName=self._table,
                IndexName=index.name,
                KeyConditionExpression="#pk = :pk",
                ExpressionAttributeNames={"#pk": index.partition},
                ExpressionAttributeValues={":pk": {"S": partition}},
                ScanIndexForward=False,
                Limit=max(1, min(limit, _MAX_LIST)),
            ),
        )
        return [QuotaOverride.model_validate_json(_body(item)) for item in response.get("Items", [])]

    async def put_override(self, override: QuotaOverride) -> QuotaOverride:
        """Create or replace an override."""
        override_id = validate_id(override.override_id, field="overrideId")
        user_id = validate_id(override.user_id, field="userId")
        await self._put(
            key("OVERRIDE", override_id)
            | {
                "body": {"S": override.model_dump_json(by_alias=True)},
                OVERRIDES_BY_USER.partition: {"S": f"USER#{user_id}"},
                OVERRIDES_BY_END.partition: {"S": "OVERRIDE"},
                OVERRIDES_BY_USER.sort: {"S": f"{iso(override.valid_until)}#{override_id}"},
            },
            "save a quota override",
        )
        return override

    async def delete_override(self, override_id: str) -> bool:
        """Remove an override; `False` when it was missing."""
        return await self._delete(
            "OVERRIDE", validate_id(override_id, field="overrideId"), "delete a quota override"
        )

    async def record_event(self, event: QuotaEvent) -> bool:
        """Store an event once per `event_id` (a marker item in the same transaction)."""
        event_id = validate_id(event.event_id, field="eventId")
        sort = f"{iso(event.timestamp)}#{event_id}"
        rejected = await transact(
            "record a quota event",
            self._client,
            [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": key(f"EVENTID#{event_id}", "EVENTID"),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": key(f"EVENTS#{month_of(event.timestamp)}", sort)
                        | {
                            "body": {"S": event.model_dump_json(by_alias=True)},
                            EVENTS_BY_USER.partition: {"S": f"USER#{event.user_id}"},
                            EVENTS_BY_TIER.partition: {"S": f"TIER#{event.tier_id or '-'}"},
                            EVENTS_BY_USER.sort: {"S": sort},
                            "eventType": {"S": event.event_type.value},
                        },
                    }
                },
            ],
        )
        return rejected is None

    async def list_events(
        self,
        *,
        user_id: UserId | None = None,
        tier_id: str | None = None,
        event_type: QuotaEventType | None = None,
        limit: int = 50,
    ) -> builtins.list[QuotaEvent]:
        """Events newest first: an index Query for a user or tier, else the month partitions backwards."""
        bounded = max(1, min(limit, _MAX_LIST))
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        filters = ""
        if event_type is not None:
            names["#type"] = "eventType"
            values[":type"] = {"S": event_type.value}
            filters = "#type = :type"
        queries: list[dict[str, Any]] = []
        if user_id is not None or tier_id is not None:
            index, partition = (
                (EVENTS_BY_USER, f"USER#{validate_id(user_id, field='userId')}")
                if user_id is not None
                else (EVENTS_BY_TIER, f"TIER#{validate_id(tier_id or '', field='tierId')}")
            )
            if user_id is not None and tier_id is not None:
                names["#tier"] = EVENTS_BY_TIER.partition
                values[":tier"] = {"S": f"TIER#{validate_id(tier_id, field='tierId')}"}
                filters = " AND ".join(part for part in (filters, "#tier = :tier") if part)
            queries.append(
                {"IndexName": index.name, "partition_name": index.partition, "partition": partition}
            )
        else:
            queries += [
                {"partition_name": "PK", "partition": f"EVENTS#{month}"}
                for month in _months_back(datetime.now(UTC), _EVENT_MONTHS)
            ]
        events: list[QuotaEvent] = []
        for query in queries:
            params: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "#pk = :pk",
                "ExpressionAttributeNames": names | {"#pk": query["partition_name"]},
                "ExpressionAttributeValues": values | {":pk": {"S": query["partition"]}},
                "ScanIndexForward": False,
            }
            if "IndexName" in query:
                params["IndexName"] = query["IndexName"]
            if filters:
                params["FilterExpression"] = filters
            start: dict[str, Any] | None = None
            while len(events) < bounded:
                request = dict(params, Limit=bounded)
                if start:
                    request["ExclusiveStartKey"] = start
                response = await call("list quota events", self._client.query(**request))
                events += [QuotaEvent.model_validate_json(_body(item)) for item in response.get("Items", [])]
                start = response.get("LastEvaluatedKey")
                if not start:
                    break
            if len(events) >= bounded:
                break
        return events[:bounded]
