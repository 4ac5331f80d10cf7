"""Assistants and their shares in DynamoDB; shared-with-me is one index query plus one batch read."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from chat_core.assistants import Assistant, AssistantShare, AssistantStatus, Visibility
from chat_core.clock import utc_now
from chat_core.errors import ConflictError, InvalidInputError
from chat_core.ids import AssistantId, UserId, validate_email, validate_id
from chat_core.pagination import Page, validate_limit
from chat_storage.aws._errors import Rejected, call, conditional
from chat_storage.aws._items import (
    Item,
    attrs_of,
    batch_delete,
    batch_get,
    cursor_of,
    entity_from,
    iso,
    key,
    model_attrs,
    query_all,
    query_page,
    start_key,
    to_item,
)
from chat_storage.aws._tables import ASSISTANTS_BY_OWNER, ASSISTANTS_PUBLIC, ASSISTANTS_SHARED_WITH

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["DynamoAssistantRepository"]

_META = "ASSISTANT"
_SHARE = "SHARE#"
_PUBLIC = "PUBLIC"
_MAX_SHARES_PER_CALL = 100


def _assistant_pk(assistant_id: str) -> str:
    return f"ASSISTANT#{assistant_id}"


def _share_pk(email: str) -> str:
    return f"SHARE#{email}"


def _assistant_item(assistant: Assistant) -> Item:
    created = f"{iso(assistant.created_at)}#{assistant.assistant_id}"
    attrs = model_attrs(assistant) | {
        "PK": _assistant_pk(assistant.assistant_id),
        "SK": _META,
        "ownerPk": f"OWNER#{assistant.owner_id}",
        "createdSk": created,
    }
    if assistant.visibility is Visibility.PUBLIC and assistant.status is AssistantStatus.COMPLETE:
        attrs["publicPk"] = _PUBLIC
    return to_item(attrs)


def _assistant_from(item: Mapping[str, Any]) -> Assistant:
    return entity_from(Assistant, attrs_of(item))


def _share_from(item: Mapping[str, Any]) -> AssistantShare:
    return entity_from(AssistantShare, attrs_of(item))


def _emails(emails: Sequence[str]) -> builtins.list[str]:
    unique = sorted({validate_email(email) for email in emails})
    if len(unique) > _MAX_SHARES_PER_CALL:
        raise InvalidInputError(
            f"At most {_MAX_SHARES_PER_CALL} emails may be changed at once.", field="emails"
        )
    return unique


class DynamoAssistantRepository:
    """`AssistantRepository` on DynamoDB.

    An assistant is `ASSISTANT#{id}` / `ASSISTANT`; its shares sit in the same partition as
    `SHARE#{email}`. Indexes: `by-owner` (newest first per owner), `public` (sparse: only PUBLIC and
    COMPLETE assistants carry `publicPk`) and `shared-with` (shares by email).
    """

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    async def get(self, assistant_id: AssistantId) -> Assistant | None:
        """By id."""
        validate_id(assistant_id, field="assistantId")
        response = await call(
            "read an assistant",
            self._client.get_item(
                TableName=self._table, Key=key(_assistant_pk(assistant_id), _META), ConsistentRead=True
            ),
        )
        item = response.get("Item")
        return None if item is None else _assistant_from(item)

    async def put(self, assistant: Assistant, *, expected_version: int | None = None) -> Assistant:
        """Create or replace. With `expected_version`, `ConflictError` unless the stored version matches."""
        validate_id(assistant.assistant_id, field="assistantId")
        validate_id(assistant.owner_id, field="ownerId")
        request: dict[str, Any] = {"TableName": self._table, "Item": _assistant_item(assistant)}
        if expected_version is not None:
            request["ConditionExpression"] = "version = :expected"
            request["ExpressionAttributeValues"] = {":expected": {"N": str(expected_version)}}
        result = await conditional("save an assistant", self._client.put_item(**request))
        if isinstance(result, Rejected):
            raise ConflictError(
                f"Assistant {assistant.assistant_id!r} is missing or not at version {expected_version}."
            )
        return assistant

    async def delete(self, assistant_id: AssistantId) -> bool:
        """Remove the assistant, then every share of it; `False` when it was missing.

        The assistant goes first: a share left behind by an interruption points at nothing and is
        never listed.
        """
        validate_id(assistant_id, field="assistantId")
        response = await call(
            "delete an assistant",
            self._client.delete_item(
                TableName=self._table, Key=key(_assistant_pk(assistant_id), _META), ReturnValues="ALL_OLD"
            ),
        )
        shares = await self._share_items(assistant_id)
        await batch_delete(
            self._client,
            "delete shares",
            self._table,
            [{"PK": item["PK"], "SK": item["SK"]} for item in shares],
        )
        return "Attributes" in response

    async def _list_index(
        self,
        action: str,
        index: str,
        partition_attr: str,
        partition: str,
        *,
        listing: str,
        limit: int,
        cursor: str | None,
        extra: Mapping[str, Any] | None = None,
    ) -> Page[Assistant]:
        validate_limit(limit)
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": f"{partition_attr} = :pk",
            "ExpressionAttributeValues": {":pk": {"S": partition}},
            "ScanIndexForward": False,
        }
        if extra:
            params["FilterExpression"] = extra["FilterExpression"]
            params["ExpressionAttributeNames"] = extra["ExpressionAttributeNames"]
            params["ExpressionAttributeValues"] |= extra["ExpressionAttributeValues"]
        items, next_cursor = await query_page(
            self._client,
            action,
            params,
            limit=limit,
            key_names=("PK", "SK", partition_attr, "createdSk"),
            listing=listing,
            cursor_start=start_key(
                cursor,
                listing=listing,
                fixed={partition_attr: partition, "SK": _META},
                prefixed={"PK": "ASSISTANT#", "createdSk": ""},
            ),
        )
        return Page(items=[_assistant_from(item) for item in items], next_cursor=next_cursor)

    async def list_owned(
        self,
        owner_id: UserId,
        *,
        statuses: frozenset[AssistantStatus],
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Assistant]:
        """The owner's assistants in the given statuses, newest first (index query, status filter)."""
        validate_id(owner_id, field="ownerId")
        validate_limit(limit)
        if not statuses:
            return Page(items=[])
        placeholders = {f":s{number}": {"S": status.value} for number, status in enumerate(sorted(statuses))}
        return await self._list_index(
            "list assistants",
            ASSISTANTS_BY_OWNER.name,
            ASSISTANTS_BY_OWNER.partition,
            f"OWNER#{owner_id}",
            listing="owned|" + ",".join(sorted(statuses)),
            limit=limit,
            cursor=cursor,
            extra={
                "FilterExpression": f"#status IN ({', '.join(placeholders)})",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": placeholders,
            },
        )

    async def list_public(self, *, limit: int = 50, cursor: str | None = None) -> Page[Assistant]:
        """PUBLIC, COMPLETE assistants, newest first: the sparse `public` index."""
        return await self._list_index(
            "list public assistants",
            ASSISTANTS_PUBLIC.name,
            ASSISTANTS_PUBLIC.partition,
            _PUBLIC,
            listing="public",
            limit=limit,
            cursor=cursor,
        )

    async def list_shared_with(
        self, email: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Assistant]:
        """Assistants shared with `email` that are SHARED and COMPLETE, newest first.

        Each round is one Query on `shared-with` and one BatchGetItem for the assistants it names
        (no N+1 reads); rounds repeat only while filtering leaves the page short.
        """
        address = validate_email(email)
        validate_limit(limit)
        partition = _share_pk(address)
        start = start_key(
            cursor,
            listing="shared-with",
            fixed={"sharePk": partition},
            prefixed={"PK": "ASSISTANT#", "SK": _SHARE, "shareSk": ""},
        )
        key_names = ("PK", "SK", "sharePk", "shareSk")
        found: builtins.list[tuple[Item, Assistant]] = []
        while True:
            request: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": ASSISTANTS_SHARED_WITH.name,
                "KeyConditionExpression": "sharePk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": partition}},
                "ScanIndexForward": False,
                "Limit": limit + 1 - len(found),
            }
            if start is not None:
                request["ExclusiveStartKey"] = start
            response = await call("list shared assistants", self._client.query(**request))
            shares = response.get("Items", [])
            if shares:
                fetched = await batch_get(
                    self._client,
                    "read shared assistants",
                    self._table,
                    [key(share["PK"]["S"], _META) for share in shares],
                )
                by_pk = {item["PK"]["S"]: _assistant_from(item) for item in fetched}
                for share in shares:
                    assistant = by_pk.get(share["PK"]["S"])
                    if (
                        assistant is not None
                        and assistant.visibility is Visibility.SHARED
                        and assistant.status is AssistantStatus.COMPLETE
                    ):
                        found.append((share, assistant))
            if len(found) > limit:
                page = found[:limit]
                next_cursor = cursor_of(page[-1][0], key_names, listing="shared-with")
                return Page(items=[assistant for _, assistant in page], next_cursor=next_cursor)
            start = response.get("LastEvaluatedKey")
            if not start:
                return Page(items=[assistant for _, assistant in found])

    async def add_shares(
        self, assistant_id: AssistantId, emails: Sequence[str]
    ) -> builtins.list[AssistantShare]:
        """Share with each (lowercased) email; an existing share keeps its fields (`if_not_exists`).

        A share's `shareSk` is the assistant's (immutable) creation time, so shared-with-me lists
        newest assistants first, like the other listings.
        """
        validate_id(assistant_id, field="assistantId")
        addresses = _emails(emails)
        assistant = await self.get(assistant_id)
        now = iso(utc_now())
        created = iso(assistant.created_at) if assistant is not None else now
        for email in addresses:
            await call(
                "share an assistant",
                self._client.update_item(
                    TableName=self._table,
                    Key=key(_assistant_pk(assistant_id), f"{_SHARE}{email}"),
                    UpdateExpression=(
                        "SET assistantId = :aid, email = :email, sharePk = :spk,"
                        " createdAt = if_not_exists(createdAt, :now),"
                        " firstInteracted = if_not_exists(firstInteracted, :false),"
                        " shareSk = if_not_exists(shareSk, :ssk)"
                    ),
                    ExpressionAttributeValues={
                        ":aid": {"S": assistant_id},
                        ":email": {"S": email},
                        ":spk": {"S": _share_pk(email)},
                        ":now": {"S": now},
                        ":false": {"BOOL": False},
                        ":ssk": {"S": f"{created}#{assistant_id}"},
                    },
                ),
            )
        return await self.list_shares(assistant_id)

    async def remove_shares(
        self, assistant_id: AssistantId, emails: Sequence[str]
    ) -> builtins.list[AssistantShare]:
        """Unshare (one batch write); unknown emails are ignored. Returns the remaining shares."""
        validate_id(assistant_id, field="assistantId")
        keys = [key(_assistant_pk(assistant_id), f"{_SHARE}{email}") for email in _emails(emails)]
        await batch_delete(self._client, "unshare an assistant", self._table, keys)
        return await self.list_shares(assistant_id)

    async def _share_items(self, assistant_id: str) -> builtins.list[Item]:
        return await query_all(
            self._client,
            "list shares",
            {
                "TableName": self._table,
                "KeyConditionExpression": "PK = :pk AND begins_with(SK, :share)",
                "ExpressionAttributeValues": {
                    ":pk": {"S": _assistant_pk(assistant_id)},
                    ":share": {"S": _SHARE},
                },
                "ConsistentRead": True,
            },
        )

    async def list_shares(self, assistant_id: AssistantId) -> builtins.list[AssistantShare]:
        """Every share of the assistant, by email (the sort key order)."""
        validate_id(assistant_id, field="assistantId")
        return [_share_from(item) for item in await self._share_items(assistant_id)]

    async def get_share(self, assistant_id: AssistantId, email: str) -> AssistantShare | None:
        """The share for one email, or `None`."""
        validate_id(assistant_id, field="assistantId")
        address = validate_email(email)
        response = await call(
            "read a share",
            self._client.get_item(
                TableName=self._table,
                Key=key(_assistant_pk(assistant_id), f"{_SHARE}{address}"),
                ConsistentRead=True,
            ),
        )
        item = response.get("Item")
        return None if item is None else _share_from(item)

    async def mark_share_interacted(self, assistant_id: AssistantId, email: str) -> None:
        """Record that the sharee used the assistant (a failed existence condition means no share)."""
        validate_id(assistant_id, field="assistantId")
        address = validate_email(email)
        await conditional(
            "mark a share used",
            self._client.update_item(
                TableName=self._table,
                Key=key(_assistant_pk(assistant_id), f"{_SHARE}{address}"),
                UpdateExpression="SET firstInteracted = :true",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues={":true": {"BOOL": True}},
            ),
        )
