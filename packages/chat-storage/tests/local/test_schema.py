from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from chat_core.costs import CostRecord, PricingSnapshot, TokenUsage
from chat_core.errors import InternalError
from chat_core.ids import SessionId, UserId
from chat_core.sessions import SessionUpdate
from chat_storage import LocalStorageConfig, open_storage
from chat_storage.local import DATABASE_FILE, SCHEMA_VERSION
from chat_storage.local._db import Database
from chat_storage.local._schema import migrate

ALICE = UserId("alice")


def schema_version(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / DATABASE_FILE) as connection:
        (version,) = connection.execute("SELECT version FROM schema_version").fetchone()
    return int(version)


async def make_version_1_file(data_dir: Path) -> None:
    """A data directory as version 1 of the schema left it, with three sessions in it."""
    await asyncio.to_thread(data_dir.mkdir, parents=True)
    database = await Database.open(data_dir / DATABASE_FILE, busy_timeout_ms=1_000)
    try:
        assert await migrate(database, target=1) == 0
        async with database.transaction() as tx:
            for session_id, created, last in [
                ("older", "2025-01-01T00:00:00.000000Z", "2025-01-05T00:00:00.000000Z"),
                ("newest", "2025-01-02T00:00:00.000000Z", "2025-01-09T00:00:00.000000Z"),
                ("no-turns", "2025-01-07T00:00:00.000000Z", None),
            ]:
                await tx.execute(
                    "INSERT INTO sessions (user_id, session_id, title, status, created_at, last_message_at, "
                    "message_count) VALUES (?, ?, ?, 'active', ?, ?, 1)",
                    (ALICE, session_id, f"Title {session_id}", created, last),
                )
    finally:
        await database.close()


async def make_version_4_file_with_costs(data_dir: Path, records: list[CostRecord]) -> None:
    """A data directory as version 4 left it: cost records without their `recorded_at` column."""
    await asyncio.to_thread(data_dir.mkdir, parents=True)
    database = await Database.open(data_dir / DATABASE_FILE, busy_timeout_ms=1_000)
    try:
        await migrate(database, target=4)
        async with database.transaction() as tx:
            for record in records:
                await tx.execute(
                    "INSERT INTO cost_records (user_id, message_id, period, body) VALUES (?, ?, ?, ?)",
                    (record.user_id, record.message_id, "2025-03", record.model_dump_json(by_alias=True)),
                )
    finally:
        await database.close()


def cost_record(number: int, at: datetime) -> CostRecord:
    return CostRecord.for_turn(
        user_id=ALICE,
        session_id=SessionId("s-1"),
        message_id=f"msg-s-1-{number}",
        model_id="model-a",
        model_name="Model A",
        provider="bedrock",
        usage=TokenUsage(input_tokens=1_000, output_tokens=100, total_tokens=1_100),
        pricing=PricingSnapshot(input_price_per_mtok=3.0, output_price_per_mtok=15.0),
        timestamp=at,
    )


class TestMigrations:
    @pytest.mark.asyncio
    async def test_a_fresh_directory_gets_the_current_schema(self, tmp_path: Path) -> None:
        async with open_storage(LocalStorageConfig(data_dir=tmp_path / "data")) as storage:
            await storage.ping()
        assert schema_version(tmp_path / "data") == SCHEMA_VERSION

    @pytest.mark.asyncio
    async def test_an_older_file_is_upgraded_and_keeps_its_data(self, tmp_path: Path) -> None:
        data_dir = tmp_path / "data"
        await make_version_1_file(data_dir)
        assert schema_version(data_dir) == 1
        async with open_storage(LocalStorageConfig(data_dir=data_dir)) as storage:
            page = await storage.sessions.list(ALICE)
            assert [s.session_id for s in page.items] == ["newest", "no-turns", "older"]
            older = await storage.sessions.get(ALICE, SessionId("older"))
            assert older is not None
            assert (older.title, older.message_count) == ("Title older", 1)
        assert schema_version(data_dir) == SCHEMA_VERSION

    @pytest.mark.asyncio
    async def test_cost_records_of_an_older_file_are_found_by_date(self, tmp_path: Path) -> None:
        data_dir = tmp_path / "data"
        inside = [
            cost_record(1, datetime(2025, 3, 1, 0, 0, tzinfo=UTC)),
            cost_record(2, datetime(2025, 3, 2, 23, 59, 59, 999_999, tzinfo=UTC)),
        ]
        outside = cost_record(3, datetime(2025, 3, 3, 0, 0, tzinfo=UTC))
        await make_version_4_file_with_costs(data_dir, [*inside, outside])
        async with open_storage(LocalStorageConfig(data_dir=data_dir)) as storage:
            report = await storage.costs.report(ALICE, date(2025, 3, 1), date(2025, 3, 2))
        assert report.total_requests == 2
        assert report.total_cost == pytest.approx(sum(record.cost.total_cost for record in inside), abs=1e-9)

    @pytest.mark.asyncio
    async def test_reopening_applies_nothing_twice(self, tmp_path: Path) -> None:
        config = LocalStorageConfig(data_dir=tmp_path / "data")
        async with open_storage(config) as storage:
            await storage.sessions.update(ALICE, SessionId("s-1"), SessionUpdate(title="kept"))
        async with open_storage(config) as storage:
            assert await storage.sessions.get(ALICE, SessionId("s-1")) is not None
        assert schema_version(tmp_path / "data") == SCHEMA_VERSION

    @pytest.mark.asyncio
    async def test_concurrent_openers_migrate_once(self, tmp_path: Path) -> None:
        """Openers racing on a new file all wait for the one switching it to WAL (none is refused)."""
        for attempt in range(10):
            config = LocalStorageConfig(data_dir=tmp_path / f"data-{attempt}")

            async def open_and_ping(config: LocalStorageConfig = config) -> None:
                async with open_storage(config) as storage:
                    await storage.ping()

            await asyncio.gather(*(open_and_ping() for _ in range(8)))
            assert schema_version(config.data_dir) == SCHEMA_VERSION

    @pytest.mark.asyncio
    async def test_a_file_from_a_newer_version_is_refused(self, tmp_path: Path) -> None:
        config = LocalStorageConfig(data_dir=tmp_path / "data")
        async with open_storage(config) as storage:
            await storage.ping()
        with sqlite3.connect(tmp_path / "data" / DATABASE_FILE) as connection:
            connection.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
        with pytest.raises(InternalError, match="newer"):
            async with open_storage(config):
                pass
        assert schema_version(tmp_path / "data") == SCHEMA_VERSION + 1
