"""Session metadata and messages in DynamoDB, written without read-modify-write races."""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from chat_core.clock import utc_now
from chat_core.errors import ConflictError, InternalError, InvalidInputError
from chat_core.ids import SessionId, UserId, message_id, validate_id
from chat_core.limits import PREFERENCES_MAX_BYTES
from chat_core.messages import Message, MessageDraft
from chat_core.pagination import Page, validate_limit
from chat_core.sessions import (
    SessionMetadata,
    SessionPreferences,
    SessionStatus,
    SessionUpdate,
    merge_preferences,
)
from chat_storage._messages import messages_from_json
from chat_storage.aws._errors import Rejected, call, conditional, transact
from chat_storage.aws._items import (
    Item,
    UpdateExpression,
    attrs_of,
    entity_from,
    iso,
    key,
    model_attrs,
    query_page,
    start_key,
    to_item,
)
from chat_storage.aws._tables import SESSIONS_BY_LAST_MESSAGE

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["DynamoMessageRepository", "DynamoSessionRepository"]

_PREF = "pref."
"""Each preference is its own attribute (`pref.<camelCaseKey>`, JSON text) so writes merge key by key."""
_MAX_PREFERENCES = 64
_MAX_PREFERENCE_BYTES = PREFERENCES_MAX_BYTES
UPDATE_ATTEMPTS = 20
MAX_MESSAGE_BYTES = 350_000
"""DynamoDB items stop at 400 KB; leave room for keys and attribute names."""
_TRANSACTION_ITEMS = 100


def session_key(user_id: str, session_id: str) -> Item:
    """The key of a session's item."""
    return key(_user_pk(user_id), _session_sk(session_id))


def message_partition(user_id: str, session_id: str) -> str:
    """The partition of a session's messages, their counter and its turn markers."""
    return f"SESSION#{user_id}#{session_id}"


def _user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def _session_sk(session_id: str) -> str:
    return f"SESSION#{session_id}"


def sort_key(moment: datetime, session_id: str) -> str:
    return f"{iso(moment)}#{session_id}"


def preference_attrs(preferences: Mapping[str, Any]) -> dict[str, str]:
    """Validate preferences and return them as `pref.<alias>` -> JSON text."""
    if len(preferences) > _MAX_PREFERENCES:
        raise InvalidInputError(f"At most {_MAX_PREFERENCES} preferences may be set.", field="preferences")
    try:
        validated = SessionPreferences.model_validate(dict(preferences))
    except ValidationError as exc:
        raise InvalidInputError("The session preferences are not valid.", field="preferences") from exc
    values = validated.model_dump(mode="json", by_alias=True, exclude_unset=True)
    attrs: dict[str, str] = {}
    for name, value in values.items():
        if not name or len(name) > 128:
            raise InvalidInputError("Preference names must be 1 to 128 characters.", field="preferences")
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)  # UTF-8: 4 bytes an emoji, not 12
        if len(text) > _MAX_PREFERENCE_BYTES:
            raise InvalidInputError(f"The preference {name!r} is too large.", field="preferences")
        attrs[_PREF + name] = text
    return attrs


def _session_from(item: Mapping[str, Any]) -> SessionMetadata:
    attrs = attrs_of(item)
    preferences = {
        name[len(_PREF) :]: json.loads(value) for name, value in attrs.items() if name.startswith(_PREF)
    }
    return entity_from(SessionMetadata, attrs | {"preferences": preferences})


def session_item(session: SessionMetadata) -> Item:
    """The whole item; `listPk` only while the session is active (the listing index is sparse)."""
    attrs = model_attrs(session)
    del attrs["preferences"]
    preferences = session.preferences.model_dump(mode="json", by_alias=True, exclude_unset=True)
    attrs |= {
        f"{_PREF}{name}": json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        for name, value in preferences.items()
    }
    attrs |= {
        "PK": _user_pk(session.user_id),
        "SK": _session_sk(session.session_id),
        "sortKey": sort_key(session.sort_time, session.session_id),
    }
    if session.status is SessionStatus.ACTIVE and not session.deleted:
        attrs["listPk"] = _user_pk(session.user_id)
    return to_item(attrs)


class DynamoSessionRepository:
    """`SessionRepository` on DynamoDB.

    An item is keyed by user and session id only. The "newest first" listing is the sparse index
    `by-last-message` (`listPk`, `sortKey`): soft delete and archiving remove `listPk` in the same
    write that changes the status.
    """

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    async def _read(self, user_id: str, session_id: str) -> Item | None:
        response = await call(
            "read a session",
            self._client.get_item(
                TableName=self._table,
                Key=key(_user_pk(user_id), _session_sk(session_id)),
                ConsistentRead=True,
            ),
        )
        return response.get("Item")

    async def get(self, user_id: UserId, session_id: SessionId) -> SessionMetadata | None:
        """The session (also when soft-deleted), or `None`."""
        validate_id(user_id, field="userId")
        validate_id(session_id, field="sessionId")
        item = await self._read(user_id, session_id)
        return None if item is None else _session_from(item)

    async def list(
        self, user_id: UserId, *, limit: int = 50, cursor: str | None = None
    ) -> Page[SessionMetadata]:
        """Active sessions, newest `last_message_at` (else `created_at`) first: one index query."""
        validate_id(user_id, field="userId")
        validate_limit(limit)
        pk = _user_pk(user_id)
        start = start_key(
            cursor,
            listing="sessions",
            fixed={"PK": pk, "listPk": pk},
            prefixed={"SK": "SESSION#", "sortKey": ""},
        )
        items, next_cursor = await query_page(
            self._client,
            "list sessions",
            {
                "TableName": self._table,
                "IndexName": SESSIONS_BY_LAST_MESSAGE.name,
                "KeyConditionExpression": "listPk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": pk}},
                "ScanIndexForward": False,
            },
            limit=limit,
            key_names=("PK", "SK", "listPk", "sortKey"),
            listing="sessions",
            cursor_start=start,
        )
        return Page(items=[_session_from(item) for item in items], next_cursor=next_cursor)

    async def _create(self, session: SessionMetadata) -> bool:
        """Put a new session unless one exists; `False` when another writer created it first."""
        result = await conditional(
            "create a session",
            self._client.put_item(
                TableName=self._table,
                Item=session_item(session),
                ConditionExpression="attribute_not_exists(PK)",
            ),
        )
        return not isinstance(result, Rejected)

    async def update(
        self,
        user_id: UserId,
        session_id: SessionId,
        changes: SessionUpdate,
        *,
        expected_version: int | None = None,
    ) -> SessionMetadata:
        """Create-or-merge the given fields, bumping `version`; conditional on the version read.

        Raises:
            ConflictError: when `expected_version` is given and differs from the stored one (or the
                session is missing), or when concurrent writers kept winning.
        """
        validate_id(user_id, field="userId")
        validate_id(session_id, field="sessionId")
        preferences = preference_attrs(changes.preferences)
        for _ in range(UPDATE_ATTEMPTS):
            item = await self._read(user_id, session_id)
            if item is None:
                if expected_version is not None:
                    raise ConflictError(
                        f"Session {session_id!r} does not exist (expected version {expected_version})."
                    )
                fields = {
                    name: value
                    for name, value in (
                        ("title", changes.title),
                        ("status", changes.status),
                        ("starred", changes.starred),
                        ("tags", changes.tags),
                    )
                    if value is not None
                }
                session = SessionMetadata.model_validate(
                    {"session_id": session_id, "user_id": user_id, "preferences": changes.preferences}
                    | fields
                )
                if session.deleted:
                    session = session.model_copy(update={"deleted_at": utc_now()})
                if await self._create(session):
                    return session
                continue
            current = _session_from(item)
            if expected_version is not None and expected_version != current.version:
                raise ConflictError(
                    f"Session {session_id!r} is at version {current.version}, not {expected_version}."
                )
            stored = current.preferences.model_dump(mode="json", by_alias=True, exclude_unset=True)
            merge_preferences(
                stored, {name[len(_PREF) :]: json.loads(text) for name, text in preferences.items()}
            )
            update = UpdateExpression()
            for name, value in (
                ("title", changes.title),
                ("starred", changes.starred),
                ("tags", changes.tags),
            ):
                if value is not None:
                    update.set(name, value)
            if changes.status is not None and not current.deleted:
                update.set("status", changes.status.value)
                if changes.deletes():
                    update.set("deleted", True)
                    update.set("deletedAt", iso(utc_now()))
                if changes.status is SessionStatus.ACTIVE:
                    update.set("listPk", _user_pk(user_id))
                else:
                    update.remove("listPk")
            for name, text in preferences.items():
                update.set(name, text)
            update.add("version", 1)
            condition = f"{update.name('version')} = {update.value(current.version)}"
            result = await conditional(
                "update a session",
                self._client.update_item(
                    TableName=self._table,
                    Key=key(_user_pk(user_id), _session_sk(session_id)),
                    ConditionExpression=condition,
                    ReturnValues="ALL_NEW",
                    **update.params(),
                ),
            )
            if isinstance(result, Rejected):
                if expected_version is not None:
                    raise ConflictError(
                        f"Session {session_id!r} was changed concurrently (version {expected_version})."
                    )
                continue
            return _session_from(result["Attributes"])
        raise ConflictError(f"Session {session_id!r} kept changing; try again.")

    async def record_turn(
        self,
        user_id: UserId,
        session_id: SessionId,
        *,
        at: datetime,
        preferences: dict[str, Any] | None = None,
    ) -> SessionMetadata:
        """Atomically: create if missing, `message_count += 1`, `last_message_at = at`, merge preferences.

        One UpdateItem with `ADD` on an existing session; a conditional put creates a missing one. A
        deleted or archived session stays out of the listing.
        """
        validate_id(user_id, field="userId")
        validate_id(session_id, field="sessionId")
        changed_preferences = preference_attrs(preferences or {})
        for _ in range(UPDATE_ATTEMPTS):
            update = UpdateExpression()
            update.set("lastMessageAt", iso(at))
            update.set("sortKey", sort_key(at, session_id))
            for name, text in changed_preferences.items():
                update.set(name, text)
            update.add("messageCount", 1)
            update.add("version", 1)
            result = await conditional(
                "record a turn",
                self._client.update_item(
                    TableName=self._table,
                    Key=key(_user_pk(user_id), _session_sk(session_id)),
                    ConditionExpression="attribute_exists(PK)",
                    ReturnValues="ALL_NEW",
                    **update.params(),
                ),
            )
            if not isinstance(result, Rejected):
                return _session_from(result["Attributes"])
            session = SessionMetadata.model_validate(
                {
                    "session_id": session_id,
                    "user_id": user_id,
                    "last_message_at": at,
                    "message_count": 1,
                    "preferences": preferences or {},
                }
            )
            if await self._create(session):
                return session
        raise ConflictError(f"Session {session_id!r} kept changing; try again.")

    async def soft_delete(self, user_id: UserId, session_id: SessionId) -> bool:
        """Mark deleted and drop out of the listing in one conditional UpdateItem."""
        validate_id(user_id, field="userId")
        validate_id(session_id, field="sessionId")
        update = UpdateExpression()
        update.set("deleted", True)
        update.set("deletedAt", iso(utc_now()))
        update.set("status", SessionStatus.DELETED.value)
        update.remove("listPk")
        update.add("version", 1)
        condition = f"attribute_exists(PK) AND {update.name('deleted')} = {update.value(False)}"
        result = await conditional(
            "delete a session",
            self._client.update_item(
                TableName=self._table,
                Key=key(_user_pk(user_id), _session_sk(session_id)),
                ConditionExpression=condition,
                **update.params(),
            ),
        )
        return not isinstance(result, Rejected)


class DynamoMessageRepository:
    """`MessageRepository` on DynamoDB.

    Indexes come from an atomic `ADD` on a per-session counter item; the messages are then written
    with conditional puts in one transaction, so an append is all or nothing and never collides.
    """

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    async def append(
        self, user_id: UserId, session_id: SessionId, messages: Sequence[MessageDraft]
    ) -> builtins.list[Message]:
        """Store `messages` at the next consecutive indexes; concurrent appends never collide."""
        validate_id(user_id, field="userId")
        validate_id(session_id, field="sessionId")
        if not messages:
            return []
        bodies = [draft.model_dump_json(by_alias=True) for draft in messages]
        if any(len(body.encode()) > MAX_MESSAGE_BYTES for body in bodies):
            raise InvalidInputError(f"A message is larger than {MAX_MESSAGE_BYTES} bytes.", field="messages")
        pk = message_partition(user_id, session_id)
        counter = await call(
            "allocate message indexes",
            self._client.update_item(
                TableName=self._table,
                Key=key(pk, "COUNTER"),
                UpdateExpression="ADD #next :count",
                ExpressionAttributeNames={"#next": "next"},
                ExpressionAttributeValues={":count": {"N": str(len(messages))}},
                ReturnValues="UPDATED_NEW",
            ),
        )
        first = int(counter["Attributes"]["next"]["N"]) - len(messages)
        stored = [
            Message.model_validate(
                {**draft.model_dump(), "id": message_id(session_id, first + offset), "index": first + offset}
            )
            for offset, draft in enumerate(messages)
        ]
        puts: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": key(pk, f"M#{message.index:010d}")
                    | {"body": {"S": message.model_dump_json(by_alias=True)}},
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
            for message in stored
        ]
        for offset in range(0, len(puts), _TRANSACTION_ITEMS):
            chunk = puts[offset : offset + _TRANSACTION_ITEMS]
            if len(chunk) == 1:  # one conditional put is atomic on its own, and cheaper
                written = await conditional("append a message", self._client.put_item(**chunk[0]["Put"]))
                collided = isinstance(written, Rejected)
            else:
                collided = await transact("append messages", self._client, chunk) is not None
            if collided:
                raise InternalError(
                    f"Message indexes of session {session_id!r} collided; the counter is off."
                )
        return stored

    async def list(
        self, user_id: UserId, session_id: SessionId, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Message]:
        """Oldest first."""
        validate_id(user_id, field="userId")
        validate_id(session_id, field="sessionId")
        validate_limit(limit)
        pk = message_partition(user_id, session_id)
        items, next_cursor = await query_page(
            self._client,
            "list messages",
            {
                "TableName": self._table,
                "KeyConditionExpression": "PK = :pk AND begins_with(SK, :m)",
                "ExpressionAttributeValues": {":pk": {"S": pk}, ":m": {"S": "M#"}},
                "ConsistentRead": True,
            },
            limit=limit,
            key_names=("PK", "SK"),
            listing="messages",
            cursor_start=start_key(cursor, listing="messages", fixed={"PK": pk}, prefixed={"SK": "M#"}),
        )
        return Page(
            items=[Message.model_validate_json(item["body"]["S"]) for item in items], next_cursor=next_cursor
        )

    async def recent(self, user_id: UserId, session_id: SessionId, *, limit: int) -> builtins.list[Message]:
        """The last `limit` messages, oldest first: one newest-first Query (`ScanIndexForward=False`)."""
        validate_id(user_id, field="userId")
        validate_id(session_id, field="sessionId")
        validate_limit(limit)
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :m)",
            "ExpressionAttributeValues": {
                ":pk": {"S": message_partition(user_id, session_id)},
                ":m": {"S": "M#"},
            },
            "ConsistentRead": True,
            "ScanIndexForward": False,
        }
        newest_first: list[Item] = []
        while len(newest_first) < limit:  # more than one request only past the 1 MB response cap
            response = await call(
                "read recent messages", self._client.query(**request, Limit=limit - len(newest_first))
            )
            newest_first += response.get("Items", [])
            if not response.get("LastEvaluatedKey"):
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return messages_from_json(item["body"]["S"] for item in reversed(newest_first))
