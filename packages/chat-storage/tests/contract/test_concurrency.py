"""Concurrent writers through two independent handles on the same data (two processes, in effect).

Each test would fail against a read-modify-write implementation: the writes are interleaved on
purpose, so reading a value and writing back an updated copy loses updates or double-books.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from chat_core.assistants import Assistant, AssistantUpdate
from chat_core.costs import CostRecord, PricingSnapshot, TokenUsage
from chat_core.errors import ConflictError, QuotaExceededError
from chat_core.files import FileUpload, UserFileQuota
from chat_core.ids import AssistantId, SessionId, UploadId, UserId
from chat_core.messages import MessageDraft
from chat_core.sessions import SessionUpdate
from chat_storage import Storage

ALICE = UserId("alice")
S1 = SessionId("s-1")
BASE = datetime(2025, 4, 1, tzinfo=UTC)


IN_FLIGHT = 50
T = TypeVar("T")


async def bounded(limit: int, calls: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Run `calls` concurrently, at most `limit` at a time, in order of their results."""
    semaphore = asyncio.Semaphore(limit)

    async def run(call: Coroutine[Any, Any, T]) -> T:
        async with semaphore:
            return await call

    return list(await asyncio.gather(*(run(call) for call in calls)))


def draft(text: str, role: str) -> MessageDraft:
    return MessageDraft.model_validate({"role": role, "content": [{"type": "text", "text": text}]})


class TestCounters:
    @pytest.mark.asyncio
    async def test_200_concurrent_turn_counts_lose_nothing(
        self, storage: Storage, other_storage: Storage
    ) -> None:
        handles = (storage, other_storage)
        await asyncio.gather(
            *(
                handles[n % 2].sessions.record_turn(
                    ALICE, S1, at=BASE + timedelta(seconds=n), preferences={"n": n}
                )
                for n in range(200)
            )
        )
        session = await storage.sessions.get(ALICE, S1)
        assert session is not None
        assert session.message_count == 200

    @pytest.mark.asyncio
    async def test_200_concurrent_cost_recordings_count_each_turn_once(
        self, storage: Storage, other_storage: Storage
    ) -> None:
        pricing = PricingSnapshot(input_price_per_mtok=3.0, output_price_per_mtok=15.0)
        records = [
            CostRecord.for_turn(
                user_id=ALICE,
                session_id=S1,
                message_id=f"msg-s-1-{n}",
                model_id="model-a",
                model_name="Model A",
                provider="bedrock",
                usage=TokenUsage(input_tokens=100 + n, output_tokens=10, total_tokens=110 + n),
                pricing=pricing,
                timestamp=BASE,
            )
            for n in range(100)
        ]
        handles = (storage, other_storage)
        # Every record is sent twice, at the same time, through different handles: each counts once.
        # At most IN_FLIGHT calls wait at once, so a slow stand-in server does not time them out.
        results = await bounded(IN_FLIGHT, [handles[n % 2].costs.record(records[n // 2]) for n in range(200)])
        assert sum(results) == 100
        summary = await storage.costs.summary(ALICE, "2025-04")
        assert summary.total_requests == 100
        assert summary.total_input_tokens == sum(100 + n for n in range(100))
        assert summary.total_cost == pytest.approx(sum(r.cost.total_cost for r in records), abs=1e-8)

    @pytest.mark.asyncio
    async def test_concurrent_reservations_never_overshoot_the_quota(
        self, storage: Storage, other_storage: Storage
    ) -> None:
        handles = (storage, other_storage)
        uploads = [
            FileUpload(
                upload_id=UploadId(f"up-{n:04d}"),
                user_id=ALICE,
                session_id=S1,
                filename="f.txt",
                mime_type="text/plain",
                size_bytes=100,
                storage_key=f"user-files/alice/s-1/up-{n:04d}/f.txt",
            )
            for n in range(30)
        ]
        results = await asyncio.gather(
            *(handles[n % 2].files.reserve(upload, quota_bytes=1_000) for n, upload in enumerate(uploads)),
            return_exceptions=True,
        )
        assert sum(isinstance(result, FileUpload) for result in results) == 10
        assert all(isinstance(result, FileUpload | QuotaExceededError) for result in results)
        assert await storage.files.quota(ALICE) == UserFileQuota(used_bytes=1_000, file_count=10)


class TestTurns:
    @pytest.mark.asyncio
    async def test_50_concurrent_turns_on_one_session_lose_nothing(
        self, storage: Storage, other_storage: Storage
    ) -> None:
        handles = (storage, other_storage)

        async def turn(n: int) -> None:
            handle = handles[n % 2]
            await handle.messages.append(ALICE, S1, [draft(f"q{n}", "user"), draft(f"a{n}", "assistant")])
            await handle.sessions.record_turn(ALICE, S1, at=BASE + timedelta(seconds=n))

        await asyncio.gather(*(turn(n) for n in range(50)))
        messages = []
        cursor: str | None = None
        while True:
            page = await storage.messages.list(ALICE, S1, limit=40, cursor=cursor)
            messages += page.items
            cursor = page.next_cursor
            if cursor is None:
                break
        assert [m.index for m in messages] == list(range(100))
        texts = [m.content[0].text or "" for m in messages]
        # Each turn's pair is stored together, question then answer.
        assert all(texts[i][1:] == texts[i + 1][1:] and texts[i][0] == "q" for i in range(0, 100, 2))
        assert sorted(int(text[1:]) for text in texts[::2]) == list(range(50))
        session = await storage.sessions.get(ALICE, S1)
        assert session is not None
        assert session.message_count == 50


class TestConditionalWrites:
    @pytest.mark.asyncio
    async def test_two_session_writers_with_one_version_exactly_one_wins(
        self, storage: Storage, other_storage: Storage
    ) -> None:
        current = await storage.sessions.update(ALICE, S1, SessionUpdate(title="Original"))
        results = await asyncio.gather(
            storage.sessions.update(
                ALICE, S1, SessionUpdate(title="From A"), expected_version=current.version
            ),
            other_storage.sessions.update(
                ALICE, S1, SessionUpdate(title="From B"), expected_version=current.version
            ),
            return_exceptions=True,
        )
        winners = [result for result in results if not isinstance(result, BaseException)]
        losers = [result for result in results if isinstance(result, BaseException)]
        assert len(winners) == 1
        assert len(losers) == 1
        assert isinstance(losers[0], ConflictError)
        stored = await storage.sessions.get(ALICE, S1)
        assert stored is not None
        assert (stored.title, stored.version) == (winners[0].title, current.version + 1)

    @pytest.mark.asyncio
    async def test_many_writers_with_one_version_exactly_one_wins(
        self, storage: Storage, other_storage: Storage
    ) -> None:
        current = await storage.sessions.update(ALICE, S1, SessionUpdate(title="Original"))
        handles = (storage, other_storage)
        results = await asyncio.gather(
            *(
                handles[n % 2].sessions.update(
                    ALICE, S1, SessionUpdate(title=f"Writer {n}"), expected_version=current.version
                )
                for n in range(10)
            ),
            return_exceptions=True,
        )
        assert sum(not isinstance(result, BaseException) for result in results) == 1
        assert all(
            isinstance(result, ConflictError) for result in results if isinstance(result, BaseException)
        )

    @pytest.mark.asyncio
    async def test_two_assistant_writers_with_one_version_exactly_one_wins(
        self, storage: Storage, other_storage: Storage
    ) -> None:
        original = await storage.assistants.put(
            Assistant(assistant_id=AssistantId("ast-000000000001"), owner_id=ALICE, name="Original")
        )
        results = await asyncio.gather(
            storage.assistants.put(
                original.updated(AssistantUpdate(name="A")), expected_version=original.version
            ),
            other_storage.assistants.put(
                original.updated(AssistantUpdate(name="B")), expected_version=original.version
            ),
            return_exceptions=True,
        )
        winners = [result for result in results if isinstance(result, Assistant)]
        assert len(winners) == 1
        assert sum(isinstance(result, ConflictError) for result in results) == 1
        stored = await storage.assistants.get(original.assistant_id)
        assert stored is not None
        assert stored.name == winners[0].name
