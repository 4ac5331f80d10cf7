"""Messages in SQLite, keyed by (user, session, index); indexes allocated inside the write lock."""

from __future__ import annotations

import builtins
from collections.abc import Sequence

from chat_core.errors import InvalidInputError
from chat_core.ids import SessionId, UserId, message_id, validate_id
from chat_core.messages import Message, MessageDraft
from chat_core.pagination import CursorCodec, Page, validate_limit
from chat_storage.local._db import Database

__all__ = ["LocalMessageRepository"]

_MAX_APPEND = 100


class LocalMessageRepository:
    """`MessageRepository` on SQLite.

    `append` reads the highest index and inserts after it in one `BEGIN IMMEDIATE` transaction, so
    concurrent appends (also from another process) get consecutive, distinct indexes.
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
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                "SELECT COALESCE(MAX(idx), -1) + 1 AS next FROM messages WHERE user_id = ? AND session_id = ?",
                (user_id, session_id),
            )
            start = int(row["next"]) if row else 0
            stored = [
                Message.model_validate(
                    draft.model_dump()
                    | {"id": message_id(session_id, start + offset), "index": start + offset}
                )
                for offset, draft in enumerate(messages)
            ]
            await tx.execute_many(
                "INSERT INTO messages (user_id, session_id, idx, body) VALUES (?, ?, ?, ?)",
                [
                    (user_id, session_id, message.index, message.model_dump_json(by_alias=True))
                    for message in stored
                ],
            )
        return stored

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
