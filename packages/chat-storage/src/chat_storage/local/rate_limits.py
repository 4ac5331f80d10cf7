"""Request-rate counters in SQLite: shared by every process that opens the data directory."""

from __future__ import annotations

import sqlite3
import time

from chat_core.errors import InvalidInputError
from chat_core.ports import WindowCounts
from chat_storage.local._db import Database

__all__ = ["LocalRateLimitCounters"]

_MAX_KEY = 256
_SWEEP_EVERY = 1000
"""Expired counters are deleted once every this many increments (each is small; the index finds them)."""

_INCR = (
    "INSERT INTO rate_limits (key, count, expires_at) VALUES (:key, :amount, :expires) "
    "ON CONFLICT (key) DO UPDATE SET "
    "count = CASE WHEN expires_at <= :now THEN excluded.count ELSE count + excluded.count END, "
    "expires_at = CASE WHEN expires_at <= :now THEN excluded.expires_at ELSE expires_at END "
    "RETURNING count"
)


# One statement counts a request and reads both windows; SET expressions see the row as it was, so
# a rotation moves the old count to `previous` before `count` restarts.
_ADD_TO_WINDOW = (
    "INSERT INTO rate_windows (key, current_window, count, previous, expires_at) "
    "VALUES (:key, :window, :amount, 0, :expires) "
    "ON CONFLICT (key) DO UPDATE SET "
    "previous = CASE WHEN current_window >= :window THEN previous "
    "WHEN current_window = :window - 1 THEN count ELSE 0 END, "
    "count = CASE WHEN current_window >= :window THEN count + :amount ELSE :amount END, "
    "current_window = MAX(current_window, :window), expires_at = MAX(expires_at, :expires) "
    "RETURNING previous, count"
)


def _key(key: str) -> str:
    if not key or len(key) > _MAX_KEY:
        raise InvalidInputError(f"A rate-limit key must be 1 to {_MAX_KEY} characters.", field="key")
    return key


class LocalRateLimitCounters:
    """`RateLimitCounters` on SQLite: each change is one atomic statement in a write transaction."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._increments = 0

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount`, restarting an expired counter with `expiry` seconds to live."""
        now = time.time()
        self._increments += 1
        async with self._db.transaction() as tx:
            if self._increments % _SWEEP_EVERY == 0:
                await tx.execute("DELETE FROM rate_limits WHERE expires_at <= ?", (now,))
            row = await tx.fetch_one(
                _INCR, {"key": _key(key), "amount": amount, "expires": now + expiry, "now": now}
            )
        assert row is not None, "RETURNING yields the row"
        return int(row["count"])

    async def add_to_window(
        self, key: str, window: int, window_seconds: int, amount: int = 1
    ) -> WindowCounts:
        """Count and read both windows in one statement, run as one call on the writer thread."""
        values = {
            "key": _key(key),
            "window": window,
            "amount": amount,
            "expires": float((window + 2) * window_seconds),
        }
        self._increments += 1
        sweep = self._increments % _SWEEP_EVERY == 0

        def add(connection: sqlite3.Connection) -> WindowCounts:
            if sweep:
                connection.execute("DELETE FROM rate_windows WHERE expires_at <= ?", (time.time(),))
            (row,) = connection.execute(_ADD_TO_WINDOW, values).fetchall()
            return WindowCounts(previous=int(row["previous"]), current=int(row["count"]))

        return await self._db.write(add)

    async def take_from_window(self, key: str, window: int, amount: int = 1) -> int:
        """Take `amount` back while `window` is the row's current one."""
        values = (window, amount, _key(key))

        def take(connection: sqlite3.Connection) -> list[sqlite3.Row]:
            return connection.execute(
                "UPDATE rate_windows SET count = MAX(0, count - CASE WHEN current_window = ? THEN ? ELSE 0 END) "
                "WHERE key = ? RETURNING count",
                values,
            ).fetchall()

        rows = await self._db.write(take)
        return int(rows[0]["count"]) if rows else 0

    async def decr(self, key: str, amount: int = 1) -> int:
        """Take `amount` back, never below 0."""
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                "UPDATE rate_limits SET count = MAX(0, count - ?) WHERE key = ? RETURNING count",
                (amount, _key(key)),
            )
        return int(row["count"]) if row is not None else 0

    async def get(self, key: str) -> int:
        """The live counter (0 if absent or expired)."""
        row = await self._db.fetch_one(
            "SELECT count FROM rate_limits WHERE key = ? AND expires_at > ?", (_key(key), time.time())
        )
        return int(row["count"]) if row is not None else 0

    async def expires_at(self, key: str) -> float:
        """When the counter expires (now when absent or expired)."""
        now = time.time()
        row = await self._db.fetch_one(
            "SELECT expires_at FROM rate_limits WHERE key = ? AND expires_at > ?", (_key(key), now)
        )
        return float(row["expires_at"]) if row is not None else now

    async def clear(self, key: str) -> None:
        """Remove the counter."""
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM rate_limits WHERE key = ?", (_key(key),))
