"""Session metadata in SQLite: one row per (user, session), listed by an index on the sort time."""

from __future__ import annotations

import builtins
import json
import sqlite3
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from chat_core.errors import ConflictError, InvalidInputError
from chat_core.ids import SessionId, UserId, validate_id
from chat_core.pagination import CursorCodec, Page, validate_limit
from chat_core.sessions import (
    SessionMetadata,
    SessionPreferences,
    SessionStatus,
    SessionUpdate,
    merge_preferences,
)
from chat_storage.local._db import Database, Transaction, to_db_time, utc_now

__all__ = ["LocalSessionRepository"]

_COLUMNS = (
    "user_id, session_id, title, status, created_at, last_message_at, message_count, starred, tags, "
    "preferences, deleted, deleted_at, version, sort_at"
)
INSERT_SESSION = f"INSERT INTO sessions ({_COLUMNS}) VALUES ({', '.join('?' * 14)})"  # noqa: S608 (constants and placeholders only)  # nosec B608
_AS_JSON = (
    "json_object('sessionId', session_id, 'userId', user_id, 'title', title, 'status', status, "
    "'createdAt', created_at, 'lastMessageAt', last_message_at, 'messageCount', message_count, "
    "'starred', starred, 'tags', json(tags), 'preferences', json(preferences), 'deleted', deleted, "
    "'deletedAt', deleted_at, 'version', version) AS body"
)
"""A row as the JSON of its `SessionMetadata`, built by SQLite, so pydantic validates it in one call."""
_SELECT = f"SELECT {_COLUMNS}, {_AS_JSON} FROM sessions WHERE user_id = ? AND session_id = ?"  # noqa: S608 (constants and placeholders only)  # nosec B608
_SESSION_LIST: TypeAdapter[list[SessionMetadata]] = TypeAdapter(list[SessionMetadata])


def _session_from_row(row: sqlite3.Row) -> SessionMetadata:
    return SessionMetadata.model_validate_json(row["body"])


def session_row(session: SessionMetadata, preferences: dict[str, Any]) -> tuple[object, ...]:
    """The values of `INSERT_SESSION` for `session`, with `preferences` in their stored form."""
    return (
        session.user_id,
        session.session_id,
        session.title,
        session.status.value,
        to_db_time(session.created_at),
        to_db_time(session.last_message_at) if session.last_message_at else None,
        session.message_count,
        int(session.starred),
        json.dumps(session.tags),
        json.dumps(preferences),
        int(session.deleted),
        to_db_time(session.deleted_at) if session.deleted_at else None,
        session.version,
        to_db_time(session.sort_time),
    )


def preference_changes(preferences: dict[str, Any]) -> dict[str, Any]:
    """Preference keys in their stored (camelCase, JSON) form, validated by `SessionPreferences`."""
    try:
        parsed = SessionPreferences.model_validate(preferences)
    except ValidationError as exc:
        raise InvalidInputError("The session preferences are not valid.", field="preferences") from exc
    return parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)


def _merge_preferences(stored: str, changes: dict[str, Any]) -> dict[str, Any]:
    return merge_preferences(json.loads(stored), changes)


def _stamp_deletion(session: SessionMetadata) -> SessionMetadata:
    """A session deleted by this write gets its deletion time (a deleted one keeps its own)."""
    if session.deleted and session.deleted_at is None:
        return session.model_copy(update={"deleted_at": utc_now()})
    return session


def _ids(user_id: UserId, session_id: SessionId) -> tuple[UserId, SessionId]:
    return UserId(validate_id(user_id, field="userId")), SessionId(validate_id(session_id, field="sessionId"))


class LocalSessionRepository:
    """`SessionRepository` on SQLite.

    The key is (user_id, session_id) and never changes; `sort_at` (last message, else creation) is an
    ordinary column with an index for "newest first".
    """

    def __init__(self, database: Database) -> None:
        self._db = database

    async def get(self, user_id: UserId, session_id: SessionId) -> SessionMetadata | None:
        """The session (also when soft-deleted), or `None`."""
        row = await self._db.fetch_one(_SELECT, _ids(user_id, session_id))
        return _session_from_row(row) if row else None

    async def list(
        self, user_id: UserId, *, limit: int = 50, cursor: str | None = None
    ) -> Page[SessionMetadata]:
        """Active sessions, newest `last_message_at` (else `created_at`) first."""
        validate_id(user_id, field="userId")
        validate_limit(limit)
        codec = CursorCodec(("sessions", user_id), {"t": str, "s": str})
        after = ""
        params: builtins.list[object] = [user_id]
        if cursor is not None:
            position = codec.decode(cursor)
            after = "AND (sort_at, session_id) < (?, ?)"
            params += [position["t"], position["s"]]
        rows = await self._db.fetch_all(
            f"SELECT sort_at, session_id, {_AS_JSON} FROM sessions "  # noqa: S608 (constants and placeholders only)  # nosec B608
            "WHERE user_id = ? AND status = 'active' AND deleted = 0 "
            f"{after} ORDER BY sort_at DESC, session_id DESC LIMIT ?",
            [*params, limit + 1],
        )
        # One validation of the whole page (in pydantic's core), not one per row.
        items = _SESSION_LIST.validate_json(f"[{','.join(row['body'] for row in rows[:limit])}]")
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = codec.encode({"t": last["sort_at"], "s": last["session_id"]})
        return Page[SessionMetadata](items=items, next_cursor=next_cursor)

    async def update(
        self,
        user_id: UserId,
        session_id: SessionId,
        changes: SessionUpdate,
        *,
        expected_version: int | None = None,
    ) -> SessionMetadata:
        """Create-or-merge the given fields; `ConflictError` when `expected_version` is stale.

        A session created by this call starts at version 1; every later write adds 1.
        """
        user_id, session_id = _ids(user_id, session_id)
        changed_preferences = preference_changes(changes.preferences)
        fields = changes.model_dump(exclude_unset=True, exclude_none=True, exclude={"preferences"})
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(_SELECT, (user_id, session_id))
            if row is None:
                if expected_version is not None:
                    raise ConflictError(
                        f"Session {session_id!r} does not exist (expected version {expected_version})."
                    )
                session = _stamp_deletion(
                    SessionMetadata.model_validate({"session_id": session_id, "user_id": user_id, **fields})
                )
                await tx.execute(
                    INSERT_SESSION, session_row(session, _merge_preferences("{}", changed_preferences))
                )
            else:
                stored_version = row["version"]
                if expected_version is not None and expected_version != stored_version:
                    raise ConflictError(
                        f"Session {session_id!r} changed meanwhile (version {stored_version}, "
                        f"expected {expected_version}).",
                        detail={"currentVersion": stored_version},
                    )
                current = _session_from_row(row)
                session = _stamp_deletion(SessionMetadata.model_validate(current.model_dump() | fields))
                preferences = _merge_preferences(row["preferences"], changed_preferences)
                changed = await tx.execute(
                    "UPDATE sessions SET title = ?, status = ?, starred = ?, tags = ?, preferences = ?, "
                    "deleted = ?, deleted_at = ?, version = version + 1 "
                    "WHERE user_id = ? AND session_id = ? AND version = ?",
                    (
                        session.title,
                        session.status.value,
                        int(session.starred),
                        json.dumps(session.tags),
                        json.dumps(preferences),
                        int(session.deleted),
                        to_db_time(session.deleted_at) if session.deleted_at else None,
                        user_id,
                        session_id,
                        stored_version,
                    ),
                )
                assert changed == 1, "the write lock is held, so the version read above still holds"
            return await self._read(tx, user_id, session_id)

    async def record_turn(
        self,
        user_id: UserId,
        session_id: SessionId,
        *,
        at: datetime,
        preferences: dict[str, Any] | None = None,
    ) -> SessionMetadata:
        """Atomically: create if missing, `message_count += 1`, `last_message_at = at`, merge preferences."""
        user_id, session_id = _ids(user_id, session_id)
        changed_preferences = preference_changes(preferences or {})
        fresh = SessionMetadata(session_id=session_id, user_id=user_id, message_count=1, last_message_at=at)
        async with self._db.transaction() as tx:
            await tx.execute(
                f"{INSERT_SESSION} ON CONFLICT (user_id, session_id) DO UPDATE SET "  # nosec B608
                "message_count = message_count + 1, last_message_at = excluded.last_message_at, "
                "sort_at = excluded.sort_at, version = version + 1",
                session_row(fresh, {}),
            )
            if changed_preferences:
                row = await tx.fetch_one(
                    "SELECT preferences FROM sessions WHERE user_id = ? AND session_id = ?",
                    (user_id, session_id),
                )
                assert row is not None, "the row was upserted in this transaction"
                await tx.execute(
                    "UPDATE sessions SET preferences = ? WHERE user_id = ? AND session_id = ?",
                    (
                        json.dumps(_merge_preferences(row["preferences"], changed_preferences)),
                        user_id,
                        session_id,
                    ),
                )
            return await self._read(tx, user_id, session_id)

    async def soft_delete(self, user_id: UserId, session_id: SessionId) -> bool:
        """Mark deleted in one statement; `False` when missing or already deleted."""
        user_id, session_id = _ids(user_id, session_id)
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE sessions SET deleted = 1, deleted_at = ?, status = ?, version = version + 1 "
                "WHERE user_id = ? AND session_id = ? AND deleted = 0",
                (to_db_time(utc_now()), SessionStatus.DELETED.value, user_id, session_id),
            )
        return changed == 1

    @staticmethod
    async def _read(tx: Transaction, user_id: UserId, session_id: SessionId) -> SessionMetadata:
        row = await tx.fetch_one(_SELECT, (user_id, session_id))
        assert row is not None, "the row was written in this transaction"
        return _session_from_row(row)
