from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chat_core.errors import ConflictError, InvalidInputError
from chat_core.ids import SessionId, UserId
from chat_core.pagination import Page
from chat_core.sessions import DEFAULT_SESSION_TITLE, SessionMetadata, SessionStatus, SessionUpdate
from chat_storage import Storage

ALICE = UserId("alice")
BOB = UserId("bob")
S1 = SessionId("s-1")
BASE = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


async def all_sessions(storage: Storage, user_id: UserId, *, limit: int) -> list[SessionMetadata]:
    items: list[SessionMetadata] = []
    cursor: str | None = None
    for _ in range(100):
        page = await storage.sessions.list(user_id, limit=limit, cursor=cursor)
        assert len(page.items) <= limit
        items += page.items
        cursor = page.next_cursor
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


class TestGet:
    @pytest.mark.asyncio
    async def test_missing_session_is_none(self, storage: Storage) -> None:
        assert await storage.sessions.get(ALICE, S1) is None

    @pytest.mark.asyncio
    async def test_returns_what_was_written(self, storage: Storage) -> None:
        await storage.sessions.update(
            ALICE, S1, SessionUpdate(title="Trip plans", starred=True, tags=["a", "b"])
        )
        session = await storage.sessions.get(ALICE, S1)
        assert session is not None
        assert (session.session_id, session.user_id) == (S1, ALICE)
        assert (session.title, session.starred, session.tags) == ("Trip plans", True, ["a", "b"])
        assert session.status is SessionStatus.ACTIVE
        assert session.message_count == 0
        assert session.deleted is False

    @pytest.mark.asyncio
    async def test_another_users_session_is_invisible(self, storage: Storage) -> None:
        await storage.sessions.update(ALICE, S1, SessionUpdate(title="Private"))
        assert await storage.sessions.get(BOB, S1) is None

    @pytest.mark.asyncio
    async def test_soft_deleted_session_is_still_returned(self, storage: Storage) -> None:
        await storage.sessions.update(ALICE, S1, SessionUpdate(title="Old"))
        assert await storage.sessions.soft_delete(ALICE, S1) is True
        session = await storage.sessions.get(ALICE, S1)
        assert session is not None
        assert session.deleted is True
        assert session.deleted_at is not None

    @pytest.mark.asyncio
    async def test_status_deleted_is_a_deletion(self, storage: Storage) -> None:
        """`deleted` and `status` are one fact: setting either reads back as both, and lasts."""
        await storage.sessions.update(ALICE, S1, SessionUpdate(title="Old"))
        await storage.sessions.update(ALICE, S1, SessionUpdate(status=SessionStatus.DELETED))
        session = await storage.sessions.get(ALICE, S1)
        assert session is not None
        assert (session.deleted, session.status) == (True, SessionStatus.DELETED)
        assert session.deleted_at is not None
        assert await storage.sessions.list(ALICE) == Page[SessionMetadata](items=[], next_cursor=None)
        assert await storage.sessions.soft_delete(ALICE, S1) is False
        revived = await storage.sessions.update(ALICE, S1, SessionUpdate(status=SessionStatus.ACTIVE))
        assert (revived.deleted, revived.status) == (True, SessionStatus.DELETED)
        assert await storage.sessions.list(ALICE) == Page[SessionMetadata](items=[], next_cursor=None)


class TestUpdate:
    @pytest.mark.asyncio
    async def test_creates_a_missing_session_with_defaults(self, storage: Storage) -> None:
        session = await storage.sessions.update(ALICE, S1, SessionUpdate(starred=True))
        assert session.title == DEFAULT_SESSION_TITLE
        assert session.starred is True
        assert session.last_message_at is None
        assert session.version >= 1
        assert await storage.sessions.get(ALICE, S1) == session

    @pytest.mark.asyncio
    async def test_unset_fields_are_left_alone(self, storage: Storage) -> None:
        await storage.sessions.update(ALICE, S1, SessionUpdate(title="Kept", tags=["x"]))
        session = await storage.sessions.update(ALICE, S1, SessionUpdate(starred=True))
        assert (session.title, session.tags, session.starred) == ("Kept", ["x"], True)

    @pytest.mark.asyncio
    async def test_preferences_merge_key_by_key(self, storage: Storage) -> None:
        await storage.sessions.update(ALICE, S1, SessionUpdate(preferences={"lastModel": "m-1", "custom": 1}))
        session = await storage.sessions.update(
            ALICE, S1, SessionUpdate(preferences={"assistantId": "ast-1"})
        )
        assert session.preferences.last_model == "m-1"
        assert session.preferences.assistant_id == "ast-1"
        assert session.preferences.model_extra == {"custom": 1}
        session = await storage.sessions.update(ALICE, S1, SessionUpdate(preferences={"lastModel": "m-2"}))
        assert (session.preferences.last_model, session.preferences.assistant_id) == ("m-2", "ast-1")

    @pytest.mark.asyncio
    async def test_every_write_bumps_the_version_by_one(self, storage: Storage) -> None:
        first = await storage.sessions.update(ALICE, S1, SessionUpdate(title="One"))
        second = await storage.sessions.update(ALICE, S1, SessionUpdate(title="Two"))
        assert second.version == first.version + 1

    @pytest.mark.asyncio
    async def test_matching_expected_version_succeeds(self, storage: Storage) -> None:
        first = await storage.sessions.update(ALICE, S1, SessionUpdate(title="One"))
        second = await storage.sessions.update(
            ALICE, S1, SessionUpdate(title="Two"), expected_version=first.version
        )
        assert (second.title, second.version) == ("Two", first.version + 1)

    @pytest.mark.asyncio
    async def test_stale_expected_version_is_a_conflict_and_changes_nothing(self, storage: Storage) -> None:
        first = await storage.sessions.update(ALICE, S1, SessionUpdate(title="One"))
        await storage.sessions.update(ALICE, S1, SessionUpdate(title="Two"))
        with pytest.raises(ConflictError):
            await storage.sessions.update(
                ALICE, S1, SessionUpdate(title="Stale"), expected_version=first.version
            )
        stored = await storage.sessions.get(ALICE, S1)
        assert stored is not None
        assert (stored.title, stored.version) == ("Two", first.version + 1)

    @pytest.mark.asyncio
    async def test_expected_version_on_a_missing_session_is_a_conflict(self, storage: Storage) -> None:
        with pytest.raises(ConflictError):
            await storage.sessions.update(ALICE, S1, SessionUpdate(title="Ghost"), expected_version=1)
        assert await storage.sessions.get(ALICE, S1) is None

    @pytest.mark.asyncio
    async def test_users_sessions_with_the_same_id_are_separate(self, storage: Storage) -> None:
        await storage.sessions.update(ALICE, S1, SessionUpdate(title="Alice's"))
        await storage.sessions.update(BOB, S1, SessionUpdate(title="Bob's"))
        alice = await storage.sessions.get(ALICE, S1)
        assert alice is not None
        assert alice.title == "Alice's"


class TestRecordTurn:
    @pytest.mark.asyncio
    async def test_creates_a_missing_session(self, storage: Storage) -> None:
        session = await storage.sessions.record_turn(ALICE, S1, at=BASE)
        assert session.message_count == 1
        assert session.last_message_at == BASE
        assert session.title == DEFAULT_SESSION_TITLE
        assert await storage.sessions.get(ALICE, S1) == session

    @pytest.mark.asyncio
    async def test_counts_turns_and_moves_last_message_at(self, storage: Storage) -> None:
        await storage.sessions.update(ALICE, S1, SessionUpdate(title="Kept"))
        await storage.sessions.record_turn(ALICE, S1, at=BASE)
        session = await storage.sessions.record_turn(ALICE, S1, at=BASE + timedelta(minutes=1))
        assert (session.message_count, session.title) == (2, "Kept")
        assert session.last_message_at == BASE + timedelta(minutes=1)

    @pytest.mark.asyncio
    async def test_merges_preferences(self, storage: Storage) -> None:
        await storage.sessions.update(ALICE, S1, SessionUpdate(preferences={"lastModel": "m-1"}))
        session = await storage.sessions.record_turn(ALICE, S1, at=BASE, preferences={"lastTemperature": 0.5})
        assert (session.preferences.last_model, session.preferences.last_temperature) == ("m-1", 0.5)

    @pytest.mark.asyncio
    async def test_a_turn_is_a_write_that_moves_the_version(self, storage: Storage) -> None:
        before = await storage.sessions.update(ALICE, S1, SessionUpdate(title="T"))
        after = await storage.sessions.record_turn(ALICE, S1, at=BASE)
        assert after.version > before.version
        with pytest.raises(ConflictError):
            await storage.sessions.update(
                ALICE, S1, SessionUpdate(title="Stale"), expected_version=before.version
            )


class TestList:
    @pytest.mark.asyncio
    async def test_no_sessions_is_an_empty_last_page(self, storage: Storage) -> None:
        page = await storage.sessions.list(ALICE)
        assert page.items == []
        assert page.next_cursor is None

    @pytest.mark.asyncio
    async def test_newest_last_message_first_else_creation_time(self, storage: Storage) -> None:
        now = datetime.now(UTC)
        await storage.sessions.record_turn(ALICE, SessionId("old-turn"), at=now - timedelta(days=2))
        await storage.sessions.update(ALICE, SessionId("created-now"), SessionUpdate(title="No turns"))
        await storage.sessions.record_turn(ALICE, SessionId("recent-turn"), at=now + timedelta(hours=1))
        await storage.sessions.record_turn(ALICE, SessionId("moved-up"), at=now - timedelta(days=3))
        await storage.sessions.record_turn(ALICE, SessionId("moved-up"), at=now + timedelta(hours=2))
        page = await storage.sessions.list(ALICE)
        assert [s.session_id for s in page.items] == ["moved-up", "recent-turn", "created-now", "old-turn"]

    @pytest.mark.asyncio
    async def test_pages_cover_every_session_once_in_order(self, storage: Storage) -> None:
        for index in range(7):
            await storage.sessions.record_turn(
                ALICE, SessionId(f"s-{index}"), at=BASE + timedelta(minutes=index)
            )
        sessions = await all_sessions(storage, ALICE, limit=3)
        assert [s.session_id for s in sessions] == [f"s-{index}" for index in reversed(range(7))]

    @pytest.mark.asyncio
    async def test_ties_on_time_are_paged_without_loss(self, storage: Storage) -> None:
        for index in range(5):
            await storage.sessions.record_turn(ALICE, SessionId(f"tie-{index}"), at=BASE)
        sessions = await all_sessions(storage, ALICE, limit=2)
        assert sorted(s.session_id for s in sessions) == [f"tie-{index}" for index in range(5)]

    @pytest.mark.asyncio
    async def test_lists_only_the_callers_active_sessions(self, storage: Storage) -> None:
        await storage.sessions.record_turn(ALICE, SessionId("kept"), at=BASE)
        await storage.sessions.record_turn(ALICE, SessionId("gone"), at=BASE)
        await storage.sessions.record_turn(BOB, SessionId("bobs"), at=BASE)
        await storage.sessions.soft_delete(ALICE, SessionId("gone"))
        page = await storage.sessions.list(ALICE)
        assert [s.session_id for s in page.items] == ["kept"]

    @pytest.mark.asyncio
    async def test_out_of_range_limit_is_invalid(self, storage: Storage) -> None:
        for limit in [0, -1, 100_000]:
            with pytest.raises(InvalidInputError):
                await storage.sessions.list(ALICE, limit=limit)


class TestSoftDelete:
    @pytest.mark.asyncio
    async def test_deletes_once(self, storage: Storage) -> None:
        await storage.sessions.record_turn(ALICE, S1, at=BASE)
        assert await storage.sessions.soft_delete(ALICE, S1) is True
        assert await storage.sessions.soft_delete(ALICE, S1) is False

    @pytest.mark.asyncio
    async def test_missing_or_foreign_session_is_false(self, storage: Storage) -> None:
        await storage.sessions.record_turn(ALICE, S1, at=BASE)
        assert await storage.sessions.soft_delete(ALICE, SessionId("nope")) is False
        assert await storage.sessions.soft_delete(BOB, S1) is False
        alice = await storage.sessions.get(ALICE, S1)
        assert alice is not None
        assert alice.deleted is False
