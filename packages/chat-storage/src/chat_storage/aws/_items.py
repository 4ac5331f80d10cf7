"""DynamoDB item plumbing shared by the repositories: attribute values, sort keys, cursors, paging."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import BaseModel

from chat_core.errors import UnavailableError
from chat_core.pagination import CursorCodec
from chat_storage.aws._errors import call

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = [
    "Item",
    "UpdateExpression",
    "attrs_of",
    "batch_delete",
    "batch_get",
    "batch_get_tables",
    "cursor_of",
    "entity_from",
    "iso",
    "key",
    "model_attrs",
    "plain",
    "query_all",
    "query_page",
    "serialize",
    "start_key",
    "to_item",
]

Item = dict[str, Any]
"""A DynamoDB item in wire form: attribute name -> `{"S": ...}`-style value."""

M = TypeVar("M", bound=BaseModel)

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()
_BATCH_GET_SIZE = 100
_BATCH_WRITE_SIZE = 25
_BATCH_ATTEMPTS = 6


def iso(moment: datetime) -> str:
    """Fixed-width UTC ISO-8601 text, so that string order is time order (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def serialize(value: Any) -> dict[str, Any]:
    """One Python value as a DynamoDB attribute value (floats must already be `Decimal`)."""
    return dict(_SERIALIZER.serialize(value))


def plain(value: Any) -> Any:
    """Undo DynamoDB's number type: integral `Decimal` -> `int`, others -> `float`, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [plain(element) for element in value]
    if isinstance(value, dict):
        return {key: plain(element) for key, element in value.items()}
    return value


def attrs_of(item: Mapping[str, Any]) -> dict[str, Any]:
    """A wire-form item as plain Python values."""
    return {name: plain(_DESERIALIZER.deserialize(value)) for name, value in item.items()}


def model_attrs(model: BaseModel) -> dict[str, Any]:
    """An entity as camelCase attributes with exact `Decimal` numbers, ready for `serialize`."""
    return dict(json.loads(model.model_dump_json(by_alias=True), parse_float=Decimal))


def to_item(values: Mapping[str, Any]) -> Item:
    """Plain attributes -> wire-form item."""
    return {name: serialize(value) for name, value in values.items()}


def key(partition: str, sort: str) -> Item:
    """The primary key of an item: every table here is keyed on string `PK` and `SK`."""
    return {"PK": {"S": partition}, "SK": {"S": sort}}


def entity_from(cls: type[M], attrs: Mapping[str, Any]) -> M:
    """Validate an entity from stored attributes, ignoring keys and index attributes."""
    fields = {field.alias or name for name, field in cls.model_fields.items()}
    return cls.model_validate({name: value for name, value in attrs.items() if name in fields})


def _codec(
    listing: str, key_names: Iterable[str], fixed: Mapping[str, str], prefixed: Mapping[str, str]
) -> CursorCodec:
    return CursorCodec((listing,), dict.fromkeys(key_names, str), fixed=fixed, prefixed=prefixed)


def start_key(
    cursor: str | None,
    *,
    listing: str,
    fixed: Mapping[str, str],
    prefixed: Mapping[str, str],
) -> Item | None:
    """The `ExclusiveStartKey` a cursor stands for, after checking it was issued for this listing.

    Args:
        cursor: The opaque `next_cursor` of a previous page, or `None` for the first page.
        listing: What is listed, with every filter and order (e.g. `files|date|desc|ready|-`); a cursor
            carries a digest of it, so one listing's cursor is refused by another.
        fixed: Key attributes that must equal these values (the caller's partition).
        prefixed: Key attributes that must start with these prefixes.

    Raises:
        InvalidInputError: for a cursor that was not issued for this listing.
    """
    if cursor is None:
        return None
    position = _codec(listing, [*fixed, *prefixed], fixed, prefixed).decode(cursor)
    return {name: {"S": value} for name, value in position.items()}


def cursor_of(item: Mapping[str, Any], key_names: Iterable[str], *, listing: str) -> str:
    """The cursor that continues `listing` right after `item`."""
    names = list(key_names)
    return _codec(listing, names, {}, {}).encode({name: item[name]["S"] for name in names})


async def query_page(
    client: DynamoDBClient,
    action: str,
    params: Mapping[str, Any],
    *,
    limit: int,
    key_names: Sequence[str],
    listing: str,
    cursor_start: Item | None,
) -> tuple[list[Item], str | None]:
    """One page of a Query: up to `limit` items and a cursor that is `None` on the last page.

    Reads one item past the page so the cursor is exact, and keeps reading while a filter or the
    1 MB response cap leaves the page short.

    Args:
        client: The DynamoDB client.
        action: What is being listed, for error messages.
        params: Query parameters without `Limit` and `ExclusiveStartKey`.
        limit: Page size.
        key_names: The table and index key attributes (what a cursor holds).
        listing: The listing's description, as given to `start_key`.
        cursor_start: The decoded cursor, from `start_key`.
    """
    collected: list[Item] = []
    start = cursor_start
    while True:
        request = dict(params, Limit=limit + 1 - len(collected))
        if start is not None:
            request["ExclusiveStartKey"] = start
        response = await call(action, client.query(**request))
        collected.extend(response.get("Items", []))
        if len(collected) > limit:
            page = collected[:limit]
            return page, cursor_of(page[-1], key_names, listing=listing)
        start = response.get("LastEvaluatedKey")
        if not start:
            return collected, None


async def query_all(client: DynamoDBClient, action: str, params: Mapping[str, Any]) -> list[Item]:
    """Every item a Query yields, following `LastEvaluatedKey` (for small, bounded partitions)."""
    items: list[Item] = []
    request = dict(params)
    while True:
        response = await call(action, client.query(**request))
        items.extend(response.get("Items", []))
        last = response.get("LastEvaluatedKey")
        if not last:
            return items
        request["ExclusiveStartKey"] = last


async def _drain(
    action: str,
    send: Callable[[dict[str, Any]], Awaitable[tuple[dict[str, Any], list[Item]]]],
    pending: dict[str, Any],
) -> list[Item]:
    """Repeat a batch request until nothing is left unprocessed (bounded, with backoff)."""
    results: list[Item] = []
    for attempt in range(_BATCH_ATTEMPTS):
        pending, found = await send(pending)
        results.extend(found)
        if not pending:
            return results
        await asyncio.sleep(0.05 * 2**attempt)
    raise UnavailableError(f"Storage is unavailable: could not {action} (items left unprocessed).")


async def batch_get(client: DynamoDBClient, action: str, table: str, keys: Sequence[Item]) -> list[Item]:
    """Read the items at `keys` (consistently) with BatchGetItem; missing ones are simply absent."""
    found: list[Item] = []
    for offset in range(0, len(keys), _BATCH_GET_SIZE):
        found += (await batch_get_tables(client, action, {table: keys[offset : offset + _BATCH_GET_SIZE]}))[
            table
        ]
    return found


async def batch_get_tables(
    client: DynamoDBClient, action: str, keys: Mapping[str, Sequence[Item]]
) -> dict[str, list[Item]]:
    """Read up to 100 items of several tables (consistently) in one BatchGetItem, per table.

    Missing items are simply absent; the order of the items is not the order of `keys`.
    """
    assert sum(len(table_keys) for table_keys in keys.values()) <= _BATCH_GET_SIZE
    by_table: dict[str, list[Item]] = {table: [] for table in keys}

    async def send(pending: dict[str, Any]) -> tuple[dict[str, Any], list[Item]]:
        response = await call(action, client.batch_get_item(RequestItems=pending))
        for table, items in response["Responses"].items():
            by_table[table].extend(items)
        return dict(response.get("UnprocessedKeys") or {}), []

    request = {
        table: {"Keys": list(table_keys), "ConsistentRead": True} for table, table_keys in keys.items()
    }
    await _drain(action, send, request)
    return by_table


async def batch_delete(client: DynamoDBClient, action: str, table: str, keys: Sequence[Item]) -> None:
    """Delete the items at `keys` with BatchWriteItem (idempotent)."""
    for offset in range(0, len(keys), _BATCH_WRITE_SIZE):
        requests = [{"DeleteRequest": {"Key": key}} for key in keys[offset : offset + _BATCH_WRITE_SIZE]]

        async def send(pending: dict[str, Any]) -> tuple[dict[str, Any], list[Item]]:
            response = await call(action, client.batch_write_item(RequestItems=pending))
            return dict(response.get("UnprocessedItems") or {}), []

        await _drain(action, send, {table: requests})


class UpdateExpression:
    """An `UpdateExpression` under construction, with generated placeholders."""

    def __init__(self) -> None:
        self.sets: list[str] = []
        self.adds: list[str] = []
        self.removes: list[str] = []
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, attribute: str) -> str:
        placeholder = f"#a{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = serialize(value)
        return placeholder

    def set(self, attribute: str, value: Any) -> None:
        self.sets.append(f"{self.name(attribute)} = {self.value(value)}")

    def add(self, attribute: str, amount: int) -> None:
        self.adds.append(f"{self.name(attribute)} {self.value(amount)}")

    def remove(self, attribute: str) -> None:
        self.removes.append(self.name(attribute))

    def params(self) -> dict[str, Any]:
        clauses = [
            f"{verb} {', '.join(parts)}"
            for verb, parts in (("SET", self.sets), ("ADD", self.adds), ("REMOVE", self.removes))
            if parts
        ]
        return {
            "UpdateExpression": " ".join(clauses),
            "ExpressionAttributeNames": self.names,
            "ExpressionAttributeValues": self.values,
        }
