"""Signed-in users in SQLite: prefix search for the share picker, listings for administrators."""

from __future__ import annotations

import builtins
import json
import sqlite3
from datetime import datetime

from chat_core.errors import InvalidInputError
from chat_core.identity import User, UserProfile, UserStatus, email_domain
from chat_core.ids import UserId, validate_id
from chat_core.pagination import CursorCodec, Page, validate_limit
from chat_storage.local._db import Database, from_db_time, to_db_time, utc_now

__all__ = ["LocalUserRepository"]

_MAX_RESULTS = 100
_MAX_PREFIX = 200
# Above every character's UTF-8 encoding, so `key >= p AND key < p + _TOP` is "key starts with p".
_TOP = "\U0010ffff"
_INSERT = (
    "INSERT INTO users (user_id, email, name, first_seen_at, roles, email_domain, last_login_at, status, "
    "email_key, name_key) VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)"
)
_BY_ID = (
    "SELECT user_id, email, name, first_seen_at, roles, email_domain, last_login_at, status FROM users "
    "WHERE user_id = ?"
)
_AFTER = "(last_login_at, user_id) < (?, ?) ORDER BY last_login_at DESC, user_id DESC LIMIT ?"
_LISTINGS = {
    (False, False): "SELECT user_id, email, name, first_seen_at, roles, email_domain, last_login_at, status "
    "FROM users WHERE " + _AFTER,
    (True, False): "SELECT user_id, email, name, first_seen_at, roles, email_domain, last_login_at, status "
    "FROM users WHERE status = ? AND " + _AFTER,
    (False, True): "SELECT user_id, email, name, first_seen_at, roles, email_domain, last_login_at, status "
    "FROM users WHERE email_domain = ? AND " + _AFTER,
    (True, True): "SELECT user_id, email, name, first_seen_at, roles, email_domain, last_login_at, status "
    "FROM users WHERE status = ? AND email_domain = ? AND " + _AFTER,
}
"""One constant query per filter combination, each served by an index ending in the sort order."""
_START = ("\U0010ffff", "")
"""A position before every row (the first page)."""


def _profile(row: sqlite3.Row) -> UserProfile:
    return UserProfile(
        user_id=UserId(row["user_id"]),
        email=row["email"],
        name=row["name"],
        first_seen_at=from_db_time(row["first_seen_at"]),
        roles=json.loads(row["roles"]),
        email_domain=row["email_domain"],
        last_login_at=from_db_time(row["last_login_at"]) if row["last_login_at"] else None,
        status=UserStatus(row["status"]),
    )


class LocalUserRepository:
    """`UserRepository` on SQLite."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def remember(self, user: User) -> bool:
        """Record a profile on first sight (`INSERT OR IGNORE`); `True` when it was new."""
        validate_id(user.user_id, field="userId")
        now = to_db_time(utc_now())
        async with self._db.transaction() as tx:
            inserted = await tx.execute(
                _INSERT.replace("INSERT", "INSERT OR IGNORE", 1),
                (
                    user.user_id,
                    user.email,
                    user.name,
                    now,
                    json.dumps(user.roles),
                    email_domain(user.email),
                    now,
                    user.email.casefold(),
                    user.name.casefold(),
                ),
            )
        return inserted == 1

    async def record_login(self, user: User, *, at: datetime) -> UserProfile:
        """Create or refresh the profile at a sign-in (keeps `first_seen_at` and `status`)."""
        validate_id(user.user_id, field="userId")
        moment = to_db_time(at)
        async with self._db.transaction() as tx:
            await tx.execute(
                _INSERT
                + " ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, name = excluded.name, "
                "roles = excluded.roles, email_domain = excluded.email_domain, "
                "last_login_at = excluded.last_login_at, email_key = excluded.email_key, "
                "name_key = excluded.name_key",
                (
                    user.user_id,
                    user.email,
                    user.name,
                    moment,
                    json.dumps(user.roles),
                    email_domain(user.email),
                    moment,
                    user.email.casefold(),
                    user.name.casefold(),
                ),
            )
            row = await tx.fetch_one(_BY_ID, (user.user_id,))
        assert row is not None
        return _profile(row)

    async def get(self, user_id: UserId) -> UserProfile | None:
        """One profile."""
        validate_id(user_id, field="userId")
        row = await self._db.fetch_one(_BY_ID, (user_id,))
        return _profile(row) if row else None

    async def get_by_email(self, email: str) -> UserProfile | None:
        """The profile with this email (case-insensitive)."""
        key = email.strip().casefold()
        if not key or len(key) > _MAX_PREFIX:
            raise InvalidInputError(f"The email must be 1 to {_MAX_PREFIX} characters.", field="email")
        row = await self._db.fetch_one(
            "SELECT user_id, email, name, first_seen_at, roles, email_domain, last_login_at, status "
            "FROM users WHERE email_key = ? ORDER BY user_id LIMIT 1",
            (key,),
        )
        return _profile(row) if row else None

    async def list(
        self,
        *,
        status: UserStatus | None = None,
        domain: str | None = None,
        limit: int = 25,
        cursor: str | None = None,
    ) -> Page[UserProfile]:
        """Profiles, most recent sign-in first, optionally of one status or email domain."""
        validate_limit(limit, maximum=_MAX_RESULTS)
        domain_key = domain.strip().lower() if domain is not None else None
        codec = CursorCodec(("users", status, domain_key), {"t": str, "u": str})
        params: list[object] = []
        if status is not None:
            params.append(status.value)
        if domain_key is not None:
            params.append(domain_key)
        start = _START
        if cursor is not None:
            position = codec.decode(cursor)
            start = (position["t"], position["u"])
        rows = await self._db.fetch_all(
            _LISTINGS[(status is not None, domain_key is not None)], (*params, *start, limit + 1)
        )
        items = [_profile(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = codec.encode({"t": last["last_login_at"], "u": last["user_id"]})
        return Page[UserProfile](items=items, next_cursor=next_cursor)

    async def domains(self, *, limit: int = 50) -> builtins.list[str]:
        """Email domains of known users, alphabetically."""
        validate_limit(limit, maximum=_MAX_RESULTS)
        rows = await self._db.fetch_all(
            "SELECT DISTINCT email_domain FROM users WHERE email_domain != '' ORDER BY email_domain LIMIT ?",
            (limit,),
        )
        return [str(row["email_domain"]) for row in rows]

    async def search(self, prefix: str, *, limit: int = 10) -> builtins.list[UserProfile]:
        """Profiles whose email or name starts with `prefix` (case-insensitive), by email."""
        if not 1 <= limit <= _MAX_RESULTS:
            raise InvalidInputError(f"limit must be between 1 and {_MAX_RESULTS}.", field="limit")
        key = prefix.strip().casefold()
        if not key or len(key) > _MAX_PREFIX:
            raise InvalidInputError(f"The search text must be 1 to {_MAX_PREFIX} characters.", field="prefix")
        rows = await self._db.fetch_all(
            "SELECT user_id, email, name, first_seen_at, roles, email_domain, last_login_at, status "
            "FROM users WHERE email_key >= ? AND email_key < ? "
            "UNION SELECT user_id, email, name, first_seen_at, roles, email_domain, last_login_at, status "
            "FROM users WHERE name_key >= ? AND name_key < ? "
            "ORDER BY email, user_id LIMIT ?",
            (key, key + _TOP, key, key + _TOP, limit),
        )
        return [_profile(row) for row in rows]
