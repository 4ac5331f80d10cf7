"""Failures of the local database surface as chat-core errors, in bounded time, with nothing half-written."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chat_core.errors import ConflictError, InternalError, UnavailableError
from chat_core.files import FileUpload, UserFileQuota
from chat_core.ids import SessionId, UploadId, UserId
from chat_core.sessions import SessionUpdate
from chat_storage import LocalStorageConfig, open_storage
from chat_storage.local import DATABASE_FILE
from chat_storage.local._db import translate_errors
from chat_storage.local.testing import hold_database

ALICE = UserId("alice")
S1 = SessionId("s-1")


@pytest.fixture
def config(tmp_path: Path) -> LocalStorageConfig:
    return LocalStorageConfig(data_dir=tmp_path / "data", busy_timeout_ms=200)


class TestLockedDatabase:
    @pytest.mark.asyncio
    async def test_writes_fail_as_unavailable_in_bounded_time_and_reads_go_on(
        self, config: LocalStorageConfig
    ) -> None:
        async with open_storage(config) as storage:
            await storage.sessions.update(ALICE, S1, SessionUpdate(title="Before"))
            holder = sqlite3.connect(config.data_dir / DATABASE_FILE, isolation_level=None)
            try:
                holder.execute("BEGIN IMMEDIATE")
                started = time.monotonic()
                with pytest.raises(UnavailableError) as caught:
                    await storage.sessions.update(ALICE, S1, SessionUpdate(title="Blocked"))
                assert time.monotonic() - started < 5
                assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
                stored = await storage.sessions.get(ALICE, S1)
                assert stored is not None
                assert stored.title == "Before"
            finally:
                holder.rollback()
                holder.close()
            after = await storage.sessions.update(ALICE, S1, SessionUpdate(title="After"))
            assert after.title == "After"

    @pytest.mark.asyncio
    async def test_a_process_holding_the_database_fails_reads_too_then_lets_go(
        self, config: LocalStorageConfig
    ) -> None:
        """`hold_database`: the outage tests use to make the whole local store (reads included) unavailable."""
        async with open_storage(config) as storage:
            await storage.sessions.update(ALICE, S1, SessionUpdate(title="Before"))
            with hold_database(config.data_dir):
                started = time.monotonic()
                for attempt in (
                    storage.sessions.get(ALICE, S1),
                    storage.roles.list(),
                    storage.sessions.update(ALICE, S1, SessionUpdate(title="Blocked")),
                ):
                    with pytest.raises(UnavailableError):
                        await attempt
                assert time.monotonic() - started < 5
            stored = await storage.sessions.get(ALICE, S1)
            assert stored is not None
            assert stored.title == "Before"
            assert (await storage.sessions.update(ALICE, S1, SessionUpdate(title="After"))).title == "After"
        with sqlite3.connect(config.data_dir / DATABASE_FILE) as check:
            assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


class TestRollback:
    @pytest.mark.asyncio
    async def test_a_failure_midway_leaves_nothing_half_written(self, config: LocalStorageConfig) -> None:
        async with open_storage(config) as storage:
            with sqlite3.connect(config.data_dir / DATABASE_FILE) as connection:
                # Fault injection: the quota update, the second write of `reserve`, fails.
                connection.execute(
                    "CREATE TRIGGER fail_quota BEFORE INSERT ON file_quotas "
                    "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
                )
            upload = FileUpload(
                upload_id=UploadId("up-1"),
                user_id=ALICE,
                session_id=S1,
                filename="f.txt",
                mime_type="text/plain",
                size_bytes=10,
                storage_key="k/f.txt",
            )
            with pytest.raises(InternalError):
                await storage.files.reserve(upload, quota_bytes=1_000)
            assert await storage.files.get(ALICE, UploadId("up-1")) is None
            assert await storage.files.quota(ALICE) == UserFileQuota()
            # The connection is usable again after the rollback.
            await storage.sessions.record_turn(ALICE, S1, at=datetime.now(UTC))


class TestTranslation:
    def test_duplicate_key_is_a_conflict(self) -> None:
        connection = sqlite3.connect(":memory:")
        connection.execute("CREATE TABLE t (k PRIMARY KEY)")
        connection.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(ConflictError), translate_errors():
            connection.execute("INSERT INTO t VALUES (1)")

    def test_other_constraint_is_internal(self) -> None:
        connection = sqlite3.connect(":memory:")
        connection.execute("CREATE TABLE t (k NOT NULL)")
        with pytest.raises(InternalError) as caught, translate_errors():
            connection.execute("INSERT INTO t VALUES (NULL)")
        assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)

    def test_sql_error_is_internal_and_hides_the_sql(self) -> None:
        connection = sqlite3.connect(":memory:")
        with pytest.raises(InternalError) as caught, translate_errors():
            connection.execute("SELECT * FROM no_such_table")
        assert "no_such_table" not in caught.value.message

    def test_unopenable_file_is_unavailable(self, tmp_path: Path) -> None:
        with pytest.raises(UnavailableError), translate_errors():
            sqlite3.connect(tmp_path / "missing-dir" / "x.db")

    @pytest.mark.asyncio
    async def test_unusable_data_dir_is_unavailable(self, tmp_path: Path) -> None:
        not_a_dir = tmp_path / "file"
        not_a_dir.write_text("x")
        with pytest.raises(UnavailableError):
            async with open_storage(LocalStorageConfig(data_dir=not_a_dir)):
                pass

    @pytest.mark.asyncio
    async def test_a_corrupt_database_file_is_an_error_not_an_empty_result(self, tmp_path: Path) -> None:
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        (data_dir / DATABASE_FILE).write_bytes(b"this is not a database" * 100)
        with pytest.raises((InternalError, UnavailableError)):
            async with open_storage(LocalStorageConfig(data_dir=data_dir)):
                pass
