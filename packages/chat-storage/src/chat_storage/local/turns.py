"""Finished turns in SQLite: one transaction, run as one call on the writer thread.

Everything that does not need the write lock (validation, JSON of the messages, the new session's row)
is prepared before it is taken; the transaction itself only reads the next message index and the
session's preferences and writes the rows. `turns` marks each recorded turn id, so recording it again
writes nothing.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from chat_core.errors import ConflictError, InternalError
from chat_core.ids import SessionId, UserId, message_id, validate_id
from chat_core.messages import Message, MessageDraft
from chat_core.sessions import SessionMetadata
from chat_core.turns import RecordedTurn, TurnRecord
from chat_storage._messages import message_body, stored_message
from chat_storage.local._db import Database, to_db_time
from chat_storage.local.costs import CostWrite
from chat_storage.local.sessions import INSERT_SESSION, preference_changes, session_row
from chat_storage.local.usage import settlement_statements

__all__ = ["LocalTurnRepository"]

_ASSISTANT = "assistantId"


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A turn's rows, computed before the write lock is taken."""

    turn: TurnRecord
    drafts: tuple[MessageDraft, ...]
    bodies: tuple[str, ...]
    """Each message's JSON without its id and index (known only inside the transaction)."""
    preferences: dict[str, Any]
    new_session: tuple[object, ...]
    at: str


@dataclass(frozen=True, slots=True)
class _Outcome:
    first_index: int
    stored_bodies: list[str] | None
    """The bodies stored by an earlier recording of the same turn id; `None` when written now."""


def _record(connection: sqlite3.Connection, prepared: _Prepared) -> _Outcome:
    """The whole turn, inside one write transaction (see `Database.write`)."""
    turn = prepared.turn
    user_id, session_id = turn.user_id, turn.session_id
    marker = connection.execute(
        "SELECT first_idx, message_count FROM turns WHERE user_id = ? AND session_id = ? AND turn_id = ?",
        (user_id, session_id, turn.turn_id),
    ).fetchone()
    if marker is not None:
        rows = connection.execute(
            "SELECT body FROM messages WHERE user_id = ? AND session_id = ? AND idx >= ? AND idx < ? "
            "ORDER BY idx",
            (user_id, session_id, marker["first_idx"], marker["first_idx"] + marker["message_count"]),
        ).fetchall()
        return _Outcome(marker["first_idx"], [row["body"] for row in rows])

    session = connection.execute(
        "SELECT preferences FROM sessions WHERE user_id = ? AND session_id = ?", (user_id, session_id)
    ).fetchone()
    if session is None:
        connection.execute(INSERT_SESSION, prepared.new_session)
    else:
        stored: dict[str, Any] = json.loads(session["preferences"])
        bound, binding = stored.get(_ASSISTANT), prepared.preferences.get(_ASSISTANT)
        if bound is not None and binding is not None and bound != binding:
            raise ConflictError("This session already uses another assistant.", field="assistant_id")
        connection.execute(
            "UPDATE sessions SET message_count = message_count + 1, last_message_at = ?, sort_at = ?, "
            "preferences = ?, version = version + 1 WHERE user_id = ? AND session_id = ?",
            (prepared.at, prepared.at, json.dumps(stored | prepared.preferences), user_id, session_id),
        )

    first = connection.execute(
        "SELECT COALESCE(MAX(idx), -1) + 1 FROM messages WHERE user_id = ? AND session_id = ?",
        (user_id, session_id),
    ).fetchone()[0]
    connection.executemany(
        "INSERT INTO messages (user_id, session_id, idx, body) VALUES (?, ?, ?, ?)",
        [
            (user_id, session_id, first + offset, message_body(body, session_id, first + offset))
            for offset, body in enumerate(prepared.bodies)
        ],
    )
    connection.execute(
        "INSERT INTO turns (user_id, session_id, turn_id, first_idx, message_count, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (user_id, session_id, turn.turn_id, first, len(prepared.bodies), prepared.at),
    )
    if turn.charge is not None:
        reply_id = message_id(session_id, first + len(prepared.bodies) - 1)
        cost = turn.charge.cost_record(
            user_id=user_id, session_id=session_id, message_id=reply_id, at=turn.at, quota=turn.quota
        )
        # The cost record's write also counts the cost against the user's day and month, releases
        # the turn's reservation and adds to the cost rollups (`CostWrite.settlement`).
        if not CostWrite.of(cost).apply(connection):
            raise InternalError(f"A cost record for message {reply_id!r} already exists.")
    elif turn.quota is not None and turn.quota.reservation_id is not None:
        for statement, params in settlement_statements(
            None, user_id=user_id, reservation_id=turn.quota.reservation_id
        ):
            connection.execute(statement, params)
    return _Outcome(first, None)


class LocalTurnRepository:
    """`TurnRepository` on SQLite.

    The messages, the turn marker, the session row, the cost record with its month's totals and the
    turn's quota settlement (usage periods, reservation, cost rollups), in one `BEGIN IMMEDIATE`
    transaction.
    """

    def __init__(self, database: Database) -> None:
        self._db = database

    async def record(self, turn: TurnRecord) -> RecordedTurn:
        """Store the turn whole, or nothing, once per `turn.turn_id` (see `chat_core.ports`)."""
        user_id = UserId(validate_id(turn.user_id, field="userId"))
        session_id = SessionId(validate_id(turn.session_id, field="sessionId"))
        validate_id(turn.turn_id, field="turnId")
        preferences = preference_changes(turn.preferences)
        drafts = (turn.user_message, turn.reply)
        fresh = SessionMetadata(
            session_id=session_id, user_id=user_id, message_count=1, last_message_at=turn.at
        )
        prepared = _Prepared(
            turn=turn,
            drafts=drafts,
            bodies=tuple(draft.model_dump_json(by_alias=True) for draft in drafts),
            preferences=preferences,
            new_session=session_row(fresh, preferences),
            at=to_db_time(turn.at),
        )
        outcome = await self._db.write(lambda connection: _record(connection, prepared))
        if outcome.stored_bodies is not None:
            return RecordedTurn(
                messages=[Message.model_validate_json(body) for body in outcome.stored_bodies], recorded=False
            )
        return RecordedTurn(
            messages=[
                stored_message(draft, session_id, outcome.first_index + offset)
                for offset, draft in enumerate(drafts)
            ],
            recorded=True,
        )
