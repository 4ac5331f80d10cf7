"""Signed-in users for the share picker: prefix search on indexed, case-folded email and name."""

from __future__ import annotations

import builtins

from chat_core.errors import InvalidInputError
from chat_core.identity import User, UserProfile
from chat_core.ids import UserId, validate_id
from chat_storage.local._db import Database, from_db_time, to_db_time, utc_now

__all__ = ["LocalUserRepository"]

_MAX_RESULTS = 100
_MAX_PREFIX = 200
# Above every character's UTF-8 encoding, so `key >= p AND key < p + _TOP` is "key starts with p".
_TOP = "\U0010ffff"


class LocalUserRepository:
    """`UserRepository` on SQLite."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def remember(self, user: User) -> bool:
        """Record a profile on first sight (`INSERT OR IGNORE`); `True` when it was new."""
        validate_id(user.user_id, field="userId")
        async with self._db.transaction() as tx:
            inserted = await tx.execute(
                "INSERT OR IGNORE INTO users (user_id, email, name, email_key, name_key, first_seen_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    user.user_id,
                    user.email,
                    user.name,
                    user.email.casefold(),
                    user.name.casefold(),
                    to_db_time(utc_now()),
                ),
            )
        return inserted == 1

    async def search(self, prefix: str, *, limit: int = 10) -> builtins.list[UserProfile]:
        """Profiles whose email or name starts with `prefix` (case-insensitive), by email."""
        if not 1 <= limit <= _MAX_RESULTS:
            raise InvalidInputError(f"limit must be between 1 and {_MAX_RESULTS}.", field="limit")
        key = prefix.strip().casefold()
        if not key or len(key) > _MAX_PREFIX:
            raise InvalidInputError(f"The search text must be 1 to {_MAX_PREFIX} characters.", field="prefix")
        rows = await self._db.fetch_all(
            "SELECT user_id, email, name, first_seen_at FROM users WHERE email_key >= ? AND email_key < ? "
            "UNION SELECT user_id, email, name, first_seen_at FROM users WHERE name_key >= ? AND name_key < ? "
            "ORDER BY email, user_id LIMIT ?",
            (key, key + _TOP, key, key + _TOP, limit),
        )
        return [
            UserProfile(
                user_id=UserId(row["user_id"]),
                email=row["email"],
                name=row["name"],
                first_seen_at=from_db_time(row["first_seen_at"]),
            )
            for row in rows
        ]
