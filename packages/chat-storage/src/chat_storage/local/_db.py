"""One SQLite database in WAL mode: a writer connection, a reader connection, and error translation.

Every statement of the local backend goes through this module, so SQLite errors are translated in one
place: lock contention and I/O failures become `UnavailableError`, a duplicate key `ConflictError`, and
anything else `InternalError`, each with the cause chained.

Writes run in `BEGIN IMMEDIATE` transactions on the writer connection. IMMEDIATE takes SQLite's write
lock before the first read, so a read-modify-write inside one transaction cannot interleave with any
other writer, in this process (an `asyncio.Lock` queues our own coroutines) or in another process
sharing the file (`busy_timeout` makes it wait). Reads use a second connection and, thanks to WAL, see
the last committed state without waiting for writers.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from chat_core.errors import ChatError, ConflictError, InternalError, UnavailableError

__all__ = ["Database", "Params", "Transaction", "from_db_time", "to_db_time", "translate_errors", "utc_now"]

Params = Sequence[Any] | dict[str, Any]

_UNAVAILABLE_CODES = frozenset(
    {"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_FULL", "SQLITE_PROTOCOL"}
)
_DUPLICATE_CODES = frozenset({"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"})


def _unavailable(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    if any(name == code or name.startswith(code + "_") for code in _UNAVAILABLE_CODES):
        return True
    text = str(exc).lower()
    return "database is locked" in text or "disk i/o error" in text or "unable to open" in text


@contextmanager
def translate_errors() -> Iterator[None]:
    """Translate `sqlite3` errors raised inside the block into `chat_core.errors`.

    Raises:
        UnavailableError: the database is locked past `busy_timeout`, or the disk failed.
        ConflictError: a primary-key or unique constraint refused a duplicate.
        InternalError: any other SQLite error (a bug or a corrupt file).
    """
    try:
        yield
    except ChatError:
        raise
    except sqlite3.IntegrityError as exc:
        if getattr(exc, "sqlite_errorname", "") in _DUPLICATE_CODES:
            raise ConflictError("A record with the same key already exists.") from exc
        raise InternalError("The local database refused a write.") from exc
    except sqlite3.Error as exc:
        if _unavailable(exc):
            raise UnavailableError("The local database is busy or unreachable; try again.") from exc
        raise InternalError("The local database failed.") from exc


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (what every stored timestamp uses)."""
    return datetime.now(UTC)


def to_db_time(moment: datetime) -> str:
    """Fixed-width UTC text, so that comparing strings compares instants (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_db_time(text: str) -> datetime:
    """The inverse of `to_db_time` (timezone-aware UTC)."""
    return datetime.fromisoformat(text)


class Transaction:
    """Statements of one `BEGIN IMMEDIATE` transaction; only `Database.transaction` makes these."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; how many rows it changed."""
        with translate_errors():
            cursor = await self._connection.execute(sql, params)
            changed = cursor.rowcount
            await cursor.close()
        return changed

    async def execute_many(self, sql: str, rows: Sequence[Params]) -> None:
        """Run one statement for each parameter set."""
        with translate_errors():
            await self._connection.executemany(sql, rows)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Rows of a query (or of a statement with `RETURNING`)."""
        with translate_errors():
            return list(await self._connection.execute_fetchall(sql, params))

    async def fetch_one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """The first row, or `None`."""
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None


class Database:
    """The open database of one data directory; use `Database.open` and `close`."""

    def __init__(self, writer: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path, *, busy_timeout_ms: int) -> Database:
        """Open (creating if needed) the file at `path` with WAL and the busy timeout set.

        Raises:
            UnavailableError: when the file cannot be opened or stays locked.
        """
        connections: list[aiosqlite.Connection] = []
        try:
            for _ in range(2):
                with translate_errors():
                    connection = await aiosqlite.connect(path, isolation_level=None)
                connections.append(connection)
                connection.row_factory = sqlite3.Row
                with translate_errors():
                    await connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
                    await connection.execute("PRAGMA journal_mode = WAL")
                    # NORMAL is durable across application crashes in WAL mode; only an OS crash or
                    # power loss may lose the last commits (https://sqlite.org/pragma.html#pragma_synchronous).
                    await connection.execute("PRAGMA synchronous = NORMAL")
                    await connection.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            for connection in connections:
                await connection.close()
            raise
        return cls(connections[0], connections[1])

    async def close(self) -> None:
        """Close both connections (the WAL is checkpointed by the last one to close)."""
        async with self._write_lock:
            await self._reader.close()
            await self._writer.close()

    async def fetch_all(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Rows of one read-only query, from the last committed state."""
        with translate_errors():
            return list(await self._reader.execute_fetchall(sql, params))

    async def fetch_one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """The first row of a read-only query, or `None`."""
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A write transaction holding SQLite's write lock from its first statement.

        Commits when the block ends, rolls back when it raises (also on cancellation).
        """
        async with self._write_lock:
            with translate_errors():
                await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._writer)
                with translate_errors():
                    await self._writer.commit()
            except BaseException:
                # `rollback()` is queued on the connection's thread at once, so it runs before any later
                # statement even if this task is cancelled again, and it is a no-op when the failed
                # COMMIT already ended the transaction.
                with translate_errors():
                    await self._writer.rollback()
                raise
