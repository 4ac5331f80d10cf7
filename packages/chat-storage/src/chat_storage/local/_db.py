"""One SQLite database in WAL mode: a writer connection, a reader connection, and error translation.

Every statement of the local backend goes through this module, so SQLite errors are translated in one
place: lock contention and I/O failures become `UnavailableError`, a duplicate key `ConflictError`, and
anything else `InternalError`, each with the cause chained.

Writes run in `BEGIN IMMEDIATE` transactions on the writer connection. IMMEDIATE takes SQLite's write
lock before the first read, so a read-modify-write inside one transaction cannot interleave with any
other writer, in this process (an `asyncio.Lock` queues our own coroutines) or in another process
sharing the file (`busy_timeout` makes it wait). Reads use a second connection and, thanks to WAL, see
the last committed state without waiting for writers.

The writer connection lives on a thread of its own. `Database.write(work)` runs a whole transaction
there as one function call: the lock is held for the time SQLite needs, not for one event-loop round
trip per statement (under load each round trip waits for every other task of the loop). The hot
writes use it; `Database.transaction()` still offers statement-by-statement transactions for the
rest. Reads go through aiosqlite.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from chat_core.errors import ChatError, ConflictError, InternalError, UnavailableError

__all__ = ["Database", "Params", "Transaction", "from_db_time", "to_db_time", "translate_errors", "utc_now"]

Params = Sequence[Any] | dict[str, Any]
T = TypeVar("T")

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


def _in_transaction(connection: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run `work` inside `BEGIN IMMEDIATE` ... `COMMIT` (rolled back if anything raises)."""
    with translate_errors():
        connection.execute("BEGIN IMMEDIATE")
        try:
            result = work(connection)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:  # a failed COMMIT may already have ended it
                connection.execute("ROLLBACK")
            raise
    return result


def _rowcount(connection: sqlite3.Connection, sql: str, params: Params) -> int:
    cursor = connection.execute(sql, params)
    changed = cursor.rowcount
    cursor.close()
    return changed


def _rows(connection: sqlite3.Connection, sql: str, params: Params) -> list[sqlite3.Row]:
    return connection.execute(sql, params).fetchall()


class Transaction:
    """Statements of one `BEGIN IMMEDIATE` transaction; only `Database.transaction` makes these."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; how many rows it changed."""
        return await self._database._on_writer(_rowcount, sql, params)

    async def execute_many(self, sql: str, rows: Sequence[Params]) -> None:
        """Run one statement for each parameter set."""
        await self._database._on_writer(lambda connection: connection.executemany(sql, rows).close())

    async def fetch_all(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Rows of a query (or of a statement with `RETURNING`)."""
        return await self._database._on_writer(_rows, sql, params)

    async def fetch_one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """The first row, or `None`."""
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None


class Database:
    """The open database of one data directory; use `Database.open` and `close`."""

    def __init__(
        self, writer: sqlite3.Connection, writer_thread: ThreadPoolExecutor, reader: aiosqlite.Connection
    ) -> None:
        self._writer = writer
        self._writer_thread = writer_thread
        self._reader = reader
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path, *, busy_timeout_ms: int) -> Database:
        """Open (creating if needed) the file at `path` with WAL and the busy timeout set.

        Raises:
            UnavailableError: when the file cannot be opened or stays locked.
        """
        writer_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        loop = asyncio.get_running_loop()
        writer: sqlite3.Connection | None = None
        reader: aiosqlite.Connection | None = None
        try:
            writer = await loop.run_in_executor(writer_thread, _connect_writer, path, busy_timeout_ms)
            with translate_errors():
                reader = await aiosqlite.connect(path, isolation_level=None)
            reader.row_factory = sqlite3.Row
            with translate_errors():
                await reader.executescript(_connection_pragmas(busy_timeout_ms))
        except BaseException:
            if reader is not None:
                await reader.close()
            if writer is not None:
                await loop.run_in_executor(writer_thread, writer.close)
            writer_thread.shutdown(wait=False)
            raise
        return cls(writer, writer_thread, reader)

    async def close(self) -> None:
        """Close both connections (the WAL is checkpointed by the last one to close)."""
        async with self._write_lock:
            await self._reader.close()
            await self._on_writer(lambda connection: connection.close())
            self._writer_thread.shutdown(wait=False)

    async def _on_writer(self, function: Callable[..., T], *args: Any) -> T:
        """Call `function(writer_connection, *args)` on the writer's thread, translating SQLite errors.

        Calls run one at a time in the order they were made, so a rollback queued after a statement
        runs after it, even when the awaiting task was cancelled meanwhile.
        """
        with translate_errors():
            return await asyncio.get_running_loop().run_in_executor(
                self._writer_thread, partial(function, self._writer, *args)
            )

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work(connection)` as one `BEGIN IMMEDIATE` transaction, in one call on the writer thread.

        `work` must only touch the database (no awaiting, no I/O elsewhere): it holds the write lock.
        Commits when it returns, rolls back when it raises. If the awaiting task is cancelled, the call
        still runs to its end (committed or rolled back) before any later write.
        """
        async with self._write_lock:
            return await self._on_writer(_in_transaction, work)

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
            await self._on_writer(_execute, "BEGIN IMMEDIATE")
            try:
                yield Transaction(self)
                await self._on_writer(_execute, "COMMIT")
            except BaseException:
                # The rollback is queued on the writer thread at once, so it runs before any later
                # statement even if this task is cancelled again; it is a no-op when the failed COMMIT
                # already ended the transaction.
                await self._on_writer(_rollback)
                raise


def _connection_pragmas(busy_timeout_ms: int) -> str:
    return f"PRAGMA busy_timeout = {int(busy_timeout_ms)}; PRAGMA foreign_keys = ON;"


# NORMAL is durable across application crashes in WAL mode; only an OS crash or power loss may
# lose the last commits (https://sqlite.org/pragma.html#pragma_synchronous).
_WRITER_PRAGMAS = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"


def _connect_writer(path: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    with translate_errors():
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            connection.row_factory = sqlite3.Row
            connection.executescript(_connection_pragmas(busy_timeout_ms))
            _switch_to_wal(connection, deadline=time.monotonic() + busy_timeout_ms / 1000)
        except BaseException:
            connection.close()
            raise
    return connection


def _switch_to_wal(connection: sqlite3.Connection, *, deadline: float) -> None:
    """Set WAL mode, retrying while another opener holds the file until `deadline`.

    Switching a new file to WAL needs an exclusive lock, and SQLite answers "locked" at once instead
    of waiting in the busy handler when openers race for it, so the wait is done here.
    """
    pause = 0.005
    while True:
        try:
            connection.executescript(_WRITER_PRAGMAS)
            return
        except sqlite3.OperationalError as exc:
            if not _unavailable(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _execute(connection: sqlite3.Connection, sql: str) -> None:
    connection.execute(sql)


def _rollback(connection: sqlite3.Connection) -> None:
    if connection.in_transaction:
        connection.execute("ROLLBACK")
