"""Assistants and their shares in SQLite; shared-with-me is one indexed join."""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Sequence

from chat_core.assistants import Assistant, AssistantShare, AssistantStatus, Visibility
from chat_core.errors import ConflictError, InvalidInputError
from chat_core.ids import AssistantId, UserId, validate_email, validate_id
from chat_core.pagination import CursorCodec, Page, validate_limit
from chat_storage.local._db import Database, Transaction, from_db_time, to_db_time, utc_now

__all__ = ["LocalAssistantRepository"]

_MAX_SHARES_PER_CALL = 100


def _share_from_row(row: sqlite3.Row) -> AssistantShare:
    return AssistantShare(
        assistant_id=AssistantId(row["assistant_id"]),
        email=row["email"],
        created_at=from_db_time(row["created_at"]),
        first_interacted=bool(row["first_interacted"]),
    )


def _emails(emails: Sequence[str]) -> builtins.list[str]:
    if isinstance(emails, str) or len(emails) > _MAX_SHARES_PER_CALL:
        raise InvalidInputError(f"Give at most {_MAX_SHARES_PER_CALL} emails as a list.", field="emails")
    return sorted({validate_email(email) for email in emails})


class LocalAssistantRepository:
    """`AssistantRepository` on SQLite.

    Assistants are rows keyed by id with indexed owner, visibility, status and creation time; shares
    are rows keyed by (assistant, email) with an index on email.
    """

    def __init__(self, database: Database) -> None:
        self._db = database

    async def get(self, assistant_id: AssistantId) -> Assistant | None:
        """By id."""
        validate_id(assistant_id, field="assistantId")
        row = await self._db.fetch_one("SELECT body FROM assistants WHERE assistant_id = ?", (assistant_id,))
        return Assistant.model_validate_json(row["body"]) if row else None

    async def put(self, assistant: Assistant, *, expected_version: int | None = None) -> Assistant:
        """Create or replace; with `expected_version`, `ConflictError` unless the stored version matches."""
        validate_id(assistant.assistant_id, field="assistantId")
        validate_id(assistant.owner_id, field="ownerId")
        values = (
            assistant.owner_id,
            assistant.status.value,
            assistant.visibility.value,
            to_db_time(assistant.created_at),
            assistant.version,
            assistant.model_dump_json(by_alias=True),
            assistant.assistant_id,
        )
        async with self._db.transaction() as tx:
            if expected_version is None:
                await tx.execute(
                    "INSERT INTO assistants (owner_id, status, visibility, created_at, version, body, "
                    "assistant_id) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (assistant_id) DO UPDATE SET "
                    "owner_id = excluded.owner_id, status = excluded.status, "
                    "visibility = excluded.visibility, created_at = excluded.created_at, "
                    "version = excluded.version, body = excluded.body",
                    values,
                )
            else:
                changed = await tx.execute(
                    "UPDATE assistants SET owner_id = ?, status = ?, visibility = ?, created_at = ?, "
                    "version = ?, body = ? WHERE assistant_id = ? AND version = ?",
                    (*values, expected_version),
                )
                if changed == 0:
                    raise ConflictError(
                        f"Assistant {assistant.assistant_id!r} changed meanwhile or does not exist "
                        f"(expected version {expected_version})."
                    )
        return assistant

    async def delete(self, assistant_id: AssistantId) -> bool:
        """Remove the assistant and every share of it, in one transaction; `False` when missing."""
        validate_id(assistant_id, field="assistantId")
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM assistant_shares WHERE assistant_id = ?", (assistant_id,))
            changed = await tx.execute("DELETE FROM assistants WHERE assistant_id = ?", (assistant_id,))
        return changed == 1

    async def list_owned(
        self,
        owner_id: UserId,
        *,
        statuses: frozenset[AssistantStatus],
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Assistant]:
        """The owner's assistants in the given statuses, newest first."""
        validate_id(owner_id, field="ownerId")
        wanted = sorted(AssistantStatus(status).value for status in statuses)
        codec = CursorCodec(("assistants-owned", owner_id, wanted), {"t": str, "a": str})
        marks = ", ".join("?" * len(wanted)) or "NULL"
        return await self._page(
            codec,
            f"SELECT a.created_at, a.assistant_id, a.body FROM assistants AS a "  # noqa: S608 (constants and placeholders only)  # nosec B608
            f"WHERE a.owner_id = ? AND a.status IN ({marks})",
            [owner_id, *wanted],
            limit,
            cursor,
        )

    async def list_shared_with(
        self, email: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Assistant]:
        """Assistants shared with `email` that are SHARED and COMPLETE, newest first: one join."""
        address = validate_email(email)
        codec = CursorCodec(("assistants-shared", address), {"t": str, "a": str})
        return await self._page(
            codec,
            "SELECT a.created_at, a.assistant_id, a.body FROM assistant_shares AS s "
            "JOIN assistants AS a ON a.assistant_id = s.assistant_id "
            "WHERE s.email = ? AND a.visibility = ? AND a.status = ?",
            [address, Visibility.SHARED.value, AssistantStatus.COMPLETE.value],
            limit,
            cursor,
        )

    async def list_public(self, *, limit: int = 50, cursor: str | None = None) -> Page[Assistant]:
        """PUBLIC, COMPLETE assistants, newest first."""
        codec = CursorCodec(("assistants-public",), {"t": str, "a": str})
        return await self._page(
            codec,
            "SELECT a.created_at, a.assistant_id, a.body FROM assistants AS a "
            "WHERE a.visibility = ? AND a.status = ?",
            [Visibility.PUBLIC.value, AssistantStatus.COMPLETE.value],
            limit,
            cursor,
        )

    async def add_shares(
        self, assistant_id: AssistantId, emails: Sequence[str]
    ) -> builtins.list[AssistantShare]:
        """Share with each (lowercased) email; existing shares are kept. Returns all shares."""
        validate_id(assistant_id, field="assistantId")
        addresses = _emails(emails)
        created_at = to_db_time(utc_now())
        async with self._db.transaction() as tx:
            await tx.execute_many(
                "INSERT OR IGNORE INTO assistant_shares (assistant_id, email, created_at) VALUES (?, ?, ?)",
                [(assistant_id, address, created_at) for address in addresses],
            )
            return await self._shares(tx, assistant_id)

    async def remove_shares(
        self, assistant_id: AssistantId, emails: Sequence[str]
    ) -> builtins.list[AssistantShare]:
        """Unshare; unknown emails are ignored. Returns the remaining shares."""
        validate_id(assistant_id, field="assistantId")
        addresses = _emails(emails)
        async with self._db.transaction() as tx:
            await tx.execute_many(
                "DELETE FROM assistant_shares WHERE assistant_id = ? AND email = ?",
                [(assistant_id, address) for address in addresses],
            )
            return await self._shares(tx, assistant_id)

    async def list_shares(self, assistant_id: AssistantId) -> builtins.list[AssistantShare]:
        """Every share of the assistant, by email."""
        validate_id(assistant_id, field="assistantId")
        rows = await self._db.fetch_all(
            "SELECT * FROM assistant_shares WHERE assistant_id = ? ORDER BY email", (assistant_id,)
        )
        return [_share_from_row(row) for row in rows]

    async def get_share(self, assistant_id: AssistantId, email: str) -> AssistantShare | None:
        """The share for one email, or `None`."""
        validate_id(assistant_id, field="assistantId")
        row = await self._db.fetch_one(
            "SELECT * FROM assistant_shares WHERE assistant_id = ? AND email = ?",
            (assistant_id, validate_email(email)),
        )
        return _share_from_row(row) if row else None

    async def mark_share_interacted(self, assistant_id: AssistantId, email: str) -> None:
        """Record that the sharee used the assistant (no-op without a share)."""
        validate_id(assistant_id, field="assistantId")
        address = validate_email(email)
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE assistant_shares SET first_interacted = 1 WHERE assistant_id = ? AND email = ?",
                (assistant_id, address),
            )

    async def _page(
        self,
        codec: CursorCodec,
        query: str,
        params: builtins.list[object],
        limit: int,
        cursor: str | None,
    ) -> Page[Assistant]:
        validate_limit(limit)
        if cursor is not None:
            position = codec.decode(cursor)
            query += " AND (a.created_at, a.assistant_id) < (?, ?)"
            params = [*params, position["t"], position["a"]]
        rows = await self._db.fetch_all(
            f"{query} ORDER BY a.created_at DESC, a.assistant_id DESC LIMIT ?", [*params, limit + 1]
        )
        items = [Assistant.model_validate_json(row["body"]) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = codec.encode({"t": last["created_at"], "a": last["assistant_id"]})
        return Page[Assistant](items=items, next_cursor=next_cursor)

    @staticmethod
    async def _shares(tx: Transaction, assistant_id: AssistantId) -> builtins.list[AssistantShare]:
        rows = await tx.fetch_all(
            "SELECT * FROM assistant_shares WHERE assistant_id = ? ORDER BY email", (assistant_id,)
        )
        return [_share_from_row(row) for row in rows]
