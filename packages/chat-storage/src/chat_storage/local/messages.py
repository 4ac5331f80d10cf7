"""Messages in SQLite, keyed by (user, session, index); indexes allocated inside the write lock."""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Sequence

from chat_core.errors import InvalidInputError
from chat_core.ids import SessionId, UserId, validate_id
from chat_core.messages import Message, MessageDraft
from chat_core.pagination import CursorCodec, Page, validate_limit
from chat_storage._messages import message_body, messages_from_json, stored_message
from chat_storage.local._db import Database

__all__ = ["LocalMessageRepository"]

_MAX_APPEND = 100


class LocalMessageRepository:
    """`MessageRepository` on SQLite.

    `append` reads the highest index and inserts after it in one `BEGIN IMMEDIATE` transaction, so
    concurrent appends (also from another process) get consecutive, distinct indexes. `recent` reads
    the key backwards from the end, so its cost is the window's, whatever the session's length.
    """

    def __init__(self, database: Database) -> None:
        self._db = database

    async def append(
        self, user_id: UserId, session_id: SessionId, messages: Sequence[MessageDraft]
    ) -> builtins.list[Message]:
        """Store `messages` at the next consecutive indexes; concurrent appends never collide."""
        validate_id(user_id, field="userId")
        validate_id(session_id, field="sessionId")
        if len(messages) > _MAX_APPEND:
            raise InvalidInputError(
                f"At most {_MAX_APPEND} messages can be appended at once.", field="messages"
            )
        if not messages:
            return []
        user_id, session_id = UserId(user_id), SessionId(session_id)
        bodies = [draft.model_dump_json(by_alias=True) for draft in messages]

        def insert(connection: sqlite3.Connection) -> int:
            first: int = connection.execute(
                "SELECT COALESCE(MAX(idx), -1) + 1 FROM messages WHERE user_id = ? AND session_id = ?",
                (user_id, session_id),
            ).fetchone()[0]
            connection.executemany(
                "INSERT INTO messages (user_id, session_id, idx, body) VALUES (?, ?, ?, ?)",
                [
                    (user_id, session_id, first + offset, message_body(body, session_id, first + offset))
                    for offset, body in enumerate(bodies)
                ],
            )
            return first

        first = await self._db.write(insert)
        return [stored_message(draft, session_id, first + offset) for offset, draft in enumerate(messages)]

    async def list(
        self, user_id: UserId, session_id: SessionId, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Message]:
        """Oldest first."""
        validate_id(user_id, field="userId")
        validate_id(session_id, field="sessionId")
        validate_limit(limit)
        codec = CursorCodec(("messages", user_id, session_id), {"i": int})
        after = -1 if cursor is None else codec.decode(cursor)["i"]
        rows = await self._db.fetch_all(
            "SELECT idx, body FROM messages WHERE user_id = ? AND session_id = ? AND idx > ? "
            "ORDER BY idx LIMIT ?",
            (user_id, session_id, after, limit + 1),
        )
        items = [Message.model_validate_json(row["body"]) for row in rows[:limit]]
        next_cursor = codec.encode({"i": rows[limit - 1]["idx"]}) if len(rows) > limit else None
        return Page[Message](items=items, next_cursor=next_cursor)

    async def recent(self, user_id: UserId, session_id: SessionId, *, limit: int) -> builtins.list[Message]:
        """The last `limit` messages, oldest first: one backwards range read of the key."""
        validate_id(user_id, field="userId")
        validate_id(session_id, field="sessionId")
        validate_limit(limit)
        rows = await self._db.fetch_all(
            "SELECT body FROM messages WHERE user_id = ? AND session_id = ? ORDER BY idx DESC LIMIT ?",
            (user_id, session_id, limit),
        )
        return messages_from_json(row["body"] for row in reversed(rows))
