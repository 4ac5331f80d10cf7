"""Finished turns in DynamoDB: one read, then one `TransactWriteItems`.

The read (one `BatchGetItem`) finds the session, the session's message counter and the turn's marker.
The transaction then holds every write of the turn, each guarded by a condition on what was read:

| item | table | write | condition |
|---|---|---|---|
| counter `SESSION#{uid}#{sid}` / `COUNTER` | messages | `SET next = :read + 2` | `next` is still what was read |
| two messages `M#{index:010d}` | messages | put | `attribute_not_exists` |
| turn marker `TURN#{turnId}` | messages | put (first index, count) | `attribute_not_exists` |
| session `USER#{uid}` / `SESSION#{sid}` | sessions | `ADD messageCount, version`; `SET` times, preferences | exists (else: put, `attribute_not_exists`) |
| cost record and month | costs | as `DynamoCostLedger.record` | record `attribute_not_exists` |
| quota settlement | usage | reservation delete; `ADD` on the user's day and month and on the two period rollups (`chat_storage.aws.usage.settlement_items`, after its own consistent read) | reservation exists; the user items' first-turn and threshold decisions |

At most fifteen items (DynamoDB allows 100) of at most 350 KB per message (400 KB per item), well under the
4 MB of a transaction. A concurrent turn or append moves the counter and cancels the transaction,
which is then read and tried again; a turn id found on the read has been recorded and is returned as
stored. A crash before the transaction leaves nothing, after it everything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from chat_core.errors import ConflictError, InternalError, InvalidInputError
from chat_core.ids import SessionId, UserId, message_id, validate_id
from chat_core.messages import Message
from chat_core.sessions import SessionMetadata
from chat_core.turns import RecordedTurn, TurnRecord
from chat_storage._messages import message_body, stored_message
from chat_storage.aws._errors import transact
from chat_storage.aws._items import Item, UpdateExpression, attrs_of, batch_get_tables, iso, key
from chat_storage.aws._tables import ResourceNames
from chat_storage.aws.costs import cost_items
from chat_storage.aws.sessions import (
    MAX_MESSAGE_BYTES,
    UPDATE_ATTEMPTS,
    message_partition,
    preference_attrs,
    session_item,
    session_key,
    sort_key,
)
from chat_storage.aws.usage import read_settlement, settlement_items

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["DynamoTurnRepository"]

_ASSISTANT: Final = "pref.assistantId"
_COUNTER: Final = "COUNTER"
_MESSAGES_AT: Final = 1
"""Where the messages' puts start in the transaction (after the counter)."""


def _marker_key(partition: str, turn_id: str) -> Item:
    return key(partition, f"TURN#{turn_id}")


class DynamoTurnRepository:
    """`TurnRepository` on DynamoDB (see the module's docstring for the transaction)."""

    def __init__(self, client: DynamoDBClient, names: ResourceNames) -> None:
        self._client = client
        self._sessions = names.sessions
        self._messages = names.messages
        self._costs = names.costs
        self._usage = names.usage

    async def record(self, turn: TurnRecord) -> RecordedTurn:
        """Store the turn whole, or nothing, once per `turn.turn_id` (see `chat_core.ports`)."""
        user_id = UserId(validate_id(turn.user_id, field="userId"))
        session_id = SessionId(validate_id(turn.session_id, field="sessionId"))
        validate_id(turn.turn_id, field="turnId")
        preferences = preference_attrs(turn.preferences)
        drafts = (turn.user_message, turn.reply)
        bodies = [draft.model_dump_json(by_alias=True) for draft in drafts]
        if any(len(body.encode()) > MAX_MESSAGE_BYTES for body in bodies):
            raise InvalidInputError(f"A message is larger than {MAX_MESSAGE_BYTES} bytes.", field="messages")
        partition = message_partition(user_id, session_id)
        for _ in range(UPDATE_ATTEMPTS):
            session, counter, marker = await self._read(user_id, session_id, partition, turn.turn_id)
            if marker is not None:
                return await self._stored(partition, marker)
            binding = preferences.get(_ASSISTANT)
            bound = session.get(_ASSISTANT, {}).get("S") if session is not None else None
            if binding is not None and bound is not None and binding != bound:
                raise ConflictError("This session already uses another assistant.", field="assistant_id")
            first = int(counter["next"]["N"]) if counter is not None else 0
            items = [
                self._counter_write(partition, first, len(bodies), exists=counter is not None),
                *(
                    {
                        "Put": {
                            "TableName": self._messages,
                            "Item": key(partition, f"M#{first + offset:010d}")
                            | {"body": {"S": message_body(body, session_id, first + offset)}},
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    }
                    for offset, body in enumerate(bodies)
                ),
                {
                    "Put": {
                        "TableName": self._messages,
                        "Item": _marker_key(partition, turn.turn_id)
                        | {
                            "firstIndex": {"N": str(first)},
                            "messageCount": {"N": str(len(bodies))},
                            "recordedAt": {"S": iso(turn.at)},
                        },
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
                self._session_write(turn, preferences, exists=session is not None),
            ]
            charged_at = len(items)
            cost = None
            if turn.charge is not None:
                reply_id = message_id(session_id, first + len(bodies) - 1)
                cost = turn.charge.cost_record(
                    user_id=user_id, session_id=session_id, message_id=reply_id, at=turn.at, quota=turn.quota
                )
                items += cost_items(self._costs, cost)
            # The quota settlement: release the reservation, count the cost (user's day and month,
            # cost rollups), decided from a consistent read of the user's usage items.
            reservation = turn.quota.reservation_id if turn.quota is not None else None
            if cost is not None or reservation is not None:
                usage = await read_settlement(self._client, self._usage, user_id, turn.at, reservation)
                items += settlement_items(
                    self._usage, cost, user_id=user_id, reservation_id=reservation, read=usage
                )
            rejected = await transact("record a turn", self._client, items)
            if rejected is None:
                return RecordedTurn(
                    messages=[
                        stored_message(draft, session_id, first + offset)
                        for offset, draft in enumerate(drafts)
                    ],
                    recorded=True,
                )
            collided = [_MESSAGES_AT + offset for offset in range(len(bodies))]
            if turn.charge is not None:
                collided.append(charged_at)
            if not rejected.failed(0) and any(rejected.failed(index) for index in collided):
                raise InternalError(f"Storing a turn of session {session_id!r} collided with stored items.")
            # The counter moved, or the session or the turn appeared meanwhile: read again.
        raise ConflictError(f"Session {session_id!r} kept changing; try again.")

    async def _read(
        self, user_id: UserId, session_id: SessionId, partition: str, turn_id: str
    ) -> tuple[Item | None, Item | None, Item | None]:
        """The session, the message counter and the turn's marker, in one consistent batch read."""
        found = await batch_get_tables(
            self._client,
            "read a session before a turn",
            {
                self._sessions: [session_key(user_id, session_id)],
                self._messages: [key(partition, _COUNTER), _marker_key(partition, turn_id)],
            },
        )
        sessions = found[self._sessions]
        by_sort_key = {item["SK"]["S"]: item for item in found[self._messages]}
        return (
            sessions[0] if sessions else None,
            by_sort_key.get(_COUNTER),
            by_sort_key.get(f"TURN#{turn_id}"),
        )

    async def _stored(self, partition: str, marker: Item) -> RecordedTurn:
        """The messages of a turn recorded before, from its marker."""
        attrs = attrs_of(marker)
        indexes = range(attrs["firstIndex"], attrs["firstIndex"] + attrs["messageCount"])
        found = await batch_get_tables(
            self._client,
            "read a recorded turn",
            {self._messages: [key(partition, f"M#{index:010d}") for index in indexes]},
        )
        messages = sorted(
            (Message.model_validate_json(item["body"]["S"]) for item in found[self._messages]),
            key=lambda message: message.index,
        )
        if len(messages) != len(indexes):
            raise InternalError("A recorded turn's messages are missing.")
        return RecordedTurn(messages=messages, recorded=False)

    def _counter_write(self, partition: str, first: int, count: int, *, exists: bool) -> dict[str, Any]:
        """Move the counter past the turn's messages, if nobody moved it since it was read."""
        condition = "#next = :read" if exists else "attribute_not_exists(#next)"
        values = {":next": {"N": str(first + count)}} | ({":read": {"N": str(first)}} if exists else {})
        return {
            "Update": {
                "TableName": self._messages,
                "Key": key(partition, _COUNTER),
                "UpdateExpression": "SET #next = :next",
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#next": "next"},
                "ExpressionAttributeValues": values,
            }
        }

    def _session_write(
        self, turn: TurnRecord, preferences: dict[str, str], *, exists: bool
    ) -> dict[str, Any]:
        """Count the turn on the session, or create the session with it."""
        if not exists:
            session = SessionMetadata.model_validate(
                {
                    "session_id": turn.session_id,
                    "user_id": turn.user_id,
                    "last_message_at": turn.at,
                    "message_count": 1,
                    "preferences": turn.preferences,
                }
            )
            return {
                "Put": {
                    "TableName": self._sessions,
                    "Item": session_item(session),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        update = UpdateExpression()
        update.set("lastMessageAt", iso(turn.at))
        update.set("sortKey", sort_key(turn.at, turn.session_id))
        for name, text in preferences.items():
            update.set(name, text)
        update.add("messageCount", 1)
        update.add("version", 1)
        condition = f"attribute_exists({update.name('PK')})"
        binding = preferences.get(_ASSISTANT)
        if binding is not None:  # never replace another assistant, even one bound since the read
            placeholder = update.name(_ASSISTANT)
            condition += (
                f" AND (attribute_not_exists({placeholder}) OR {placeholder} = {update.value(binding)})"
            )
        return {
            "Update": {
                "TableName": self._sessions,
                "Key": session_key(turn.user_id, turn.session_id),
                "ConditionExpression": condition,
                **update.params(),
            }
        }
