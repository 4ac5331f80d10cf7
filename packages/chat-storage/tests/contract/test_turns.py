"""A finished turn is one atomic write, recorded once per turn id, on every backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from chat_core.costs import PricingSnapshot, TokenUsage, period_of
from chat_core.errors import ConflictError, InvalidInputError
from chat_core.ids import SessionId, UserId
from chat_core.messages import MessageDraft, MessageStatus
from chat_core.sessions import SessionUpdate
from chat_core.turns import TurnCharge, TurnRecord
from chat_storage import Storage

ALICE = UserId("alice")
BOB = UserId("bob")
S1 = SessionId("s-1")
AT = datetime(2025, 5, 6, 7, 8, 9, tzinfo=UTC)
CHARGE = TurnCharge(
    model_id="model-a",
    model_name="Model A",
    provider="bedrock",
    usage=TokenUsage(input_tokens=1_000, output_tokens=200, total_tokens=1_200),
    pricing=PricingSnapshot(input_price_per_mtok=3.0, output_price_per_mtok=15.0),
)


def draft(text: str, role: str, status: MessageStatus = MessageStatus.COMPLETE) -> MessageDraft:
    return MessageDraft.model_validate(
        {"role": role, "content": [{"type": "text", "text": text}], "status": status}
    )


def turn(
    turn_id: str,
    *,
    user_id: UserId = ALICE,
    session_id: SessionId = S1,
    question: str = "Why?",
    answer: str = "Because.",
    at: datetime = AT,
    preferences: dict[str, object] | None = None,
    charge: TurnCharge | None = CHARGE,
    status: MessageStatus = MessageStatus.COMPLETE,
) -> TurnRecord:
    return TurnRecord(
        turn_id=turn_id,
        user_id=user_id,
        session_id=session_id,
        user_message=draft(question, "user"),
        reply=draft(answer, "assistant", status),
        at=at,
        preferences=dict(preferences or {}),
        charge=charge,
    )


class TestRecord:
    @pytest.mark.asyncio
    async def test_the_first_turn_creates_the_session_with_everything(self, storage: Storage) -> None:
        recorded = await storage.turns.record(turn("t-1", preferences={"lastModel": "model-a"}))
        assert recorded.recorded is True
        assert [(m.index, m.id, m.role) for m in recorded.messages] == [
            (0, "msg-s-1-0", "user"),
            (1, "msg-s-1-1", "assistant"),
        ]
        assert recorded.reply.content[0].text == "Because."
        session = await storage.sessions.get(ALICE, S1)
        assert session is not None
        assert (session.message_count, session.last_message_at, session.version) == (1, AT, 1)
        assert session.preferences.last_model == "model-a"
        stored = (await storage.messages.list(ALICE, S1)).items
        assert stored == recorded.messages
        summary = await storage.costs.summary(ALICE, period_of(AT))
        assert (summary.total_requests, summary.total_input_tokens) == (1, 1_000)
        assert summary.total_cost == pytest.approx(0.006)
        assert [page.session_id for page in (await storage.sessions.list(ALICE)).items] == [S1]

    @pytest.mark.asyncio
    async def test_later_turns_follow_and_count(self, storage: Storage) -> None:
        await storage.sessions.update(ALICE, S1, SessionUpdate(title="Kept"))
        await storage.turns.record(turn("t-1"))
        second = await storage.turns.record(
            turn("t-2", at=AT + timedelta(minutes=1), preferences={"lastTemperature": 0.2})
        )
        assert [m.index for m in second.messages] == [2, 3]
        session = await storage.sessions.get(ALICE, S1)
        assert session is not None
        assert (session.title, session.message_count, session.version) == ("Kept", 2, 3)
        assert session.last_message_at == AT + timedelta(minutes=1)
        assert session.preferences.last_temperature == 0.2
        assert (await storage.costs.summary(ALICE, period_of(AT))).total_requests == 2

    @pytest.mark.asyncio
    async def test_turns_and_appends_share_one_numbering(self, storage: Storage) -> None:
        await storage.messages.append(ALICE, S1, [draft("before", "user")])
        recorded = await storage.turns.record(turn("t-1"))
        after = await storage.messages.append(ALICE, S1, [draft("after", "user")])
        assert [m.index for m in recorded.messages] == [1, 2]
        assert [m.index for m in after] == [3]

    @pytest.mark.asyncio
    async def test_an_uncharged_turn_costs_nothing(self, storage: Storage) -> None:
        await storage.turns.record(turn("t-1", charge=None, status=MessageStatus.FAILED))
        assert (await storage.costs.summary(ALICE, period_of(AT))).total_requests == 0
        messages = (await storage.messages.list(ALICE, S1)).items
        assert messages[1].status is MessageStatus.FAILED

    @pytest.mark.asyncio
    async def test_users_are_kept_apart(self, storage: Storage) -> None:
        await storage.turns.record(turn("t-1"))
        bobs = await storage.turns.record(turn("t-1", user_id=BOB, question="Bob's"))
        assert bobs.recorded is True
        assert [m.index for m in bobs.messages] == [0, 1]
        alice_messages = (await storage.messages.list(ALICE, S1)).items
        assert [m.content[0].text for m in alice_messages] == ["Why?", "Because."]

    @pytest.mark.asyncio
    async def test_a_deleted_session_stays_deleted(self, storage: Storage) -> None:
        await storage.turns.record(turn("t-1"))
        assert await storage.sessions.soft_delete(ALICE, S1) is True
        await storage.turns.record(turn("t-2"))
        session = await storage.sessions.get(ALICE, S1)
        assert session is not None
        assert session.deleted is True
        assert (await storage.sessions.list(ALICE)).items == []


class TestOncePerTurnId:
    @pytest.mark.asyncio
    async def test_recording_again_writes_nothing_and_returns_the_stored_turn(self, storage: Storage) -> None:
        first = await storage.turns.record(turn("t-1"))
        # A retry after a late failure, as the failed turn it would otherwise store.
        again = await storage.turns.record(
            turn("t-1", answer="It failed.", status=MessageStatus.FAILED, at=AT + timedelta(seconds=5))
        )
        assert again.recorded is False
        assert again.messages == first.messages
        assert len((await storage.messages.list(ALICE, S1)).items) == 2
        session = await storage.sessions.get(ALICE, S1)
        assert session is not None
        assert (session.message_count, session.last_message_at) == (1, AT)
        assert (await storage.costs.summary(ALICE, period_of(AT))).total_requests == 1

    @pytest.mark.asyncio
    async def test_the_same_turn_at_once_from_two_handles_is_stored_once(
        self, storage: Storage, other_storage: Storage
    ) -> None:
        results = await asyncio.gather(
            *(handle.turns.record(turn("t-same")) for handle in (storage, other_storage) for _ in range(3))
        )
        assert sorted(result.recorded for result in results) == [False] * 5 + [True]
        assert all(result.messages == results[0].messages for result in results)
        assert len((await storage.messages.list(ALICE, S1)).items) == 2
        assert (await storage.costs.summary(ALICE, period_of(AT))).total_requests == 1


class TestConcurrentTurns:
    @pytest.mark.asyncio
    async def test_turns_at_once_are_each_stored_whole_in_their_own_place(
        self, storage: Storage, other_storage: Storage
    ) -> None:
        handles = (storage, other_storage)
        turns = 20
        results = await asyncio.gather(
            *(
                handles[n % 2].turns.record(turn(f"t-{n}", question=f"q{n}", answer=f"a{n}"))
                for n in range(turns)
            )
        )
        assert all(result.recorded for result in results)
        messages = (await storage.messages.list(ALICE, S1, limit=100)).items
        assert [m.index for m in messages] == list(range(2 * turns))
        pairs = [
            (messages[i].content[0].text, messages[i + 1].content[0].text) for i in range(0, 2 * turns, 2)
        ]
        assert sorted(pairs) == sorted((f"q{n}", f"a{n}") for n in range(turns))
        session = await storage.sessions.get(ALICE, S1)
        assert session is not None
        assert session.message_count == turns
        assert (await storage.costs.summary(ALICE, period_of(AT))).total_requests == turns


class TestAssistantBinding:
    @pytest.mark.asyncio
    async def test_a_session_keeps_its_assistant(self, storage: Storage) -> None:
        await storage.turns.record(turn("t-1", preferences={"assistantId": "ast-one"}))
        await storage.turns.record(turn("t-2", preferences={"assistantId": "ast-one"}))
        with pytest.raises(ConflictError) as caught:
            await storage.turns.record(turn("t-3", preferences={"assistantId": "ast-two"}))
        assert caught.value.field == "assistant_id"
        session = await storage.sessions.get(ALICE, S1)
        assert session is not None
        assert (session.preferences.assistant_id, session.message_count) == ("ast-one", 2)
        assert len((await storage.messages.list(ALICE, S1)).items) == 4


class TestBadInput:
    @pytest.mark.parametrize(
        ("field", "changes"),
        [
            ("turnId", {"turn_id": "bad id"}),
            ("userId", {"user_id": UserId("../x")}),
            ("sessionId", {"session_id": SessionId("a/b")}),
        ],
    )
    @pytest.mark.asyncio
    async def test_invalid_ids_are_refused_before_anything_is_written(
        self, storage: Storage, field: str, changes: dict[str, str]
    ) -> None:
        record = turn("t-1")
        bad = TurnRecord(**{**{name: getattr(record, name) for name in record.__slots__}, **changes})
        with pytest.raises(InvalidInputError) as caught:
            await storage.turns.record(bad)
        assert caught.value.field == field
        assert await storage.sessions.get(ALICE, S1) is None

    @pytest.mark.asyncio
    async def test_invalid_preferences_are_refused(self, storage: Storage) -> None:
        with pytest.raises(InvalidInputError):
            await storage.turns.record(turn("t-1", preferences={"lastTemperature": "hot"}))
        assert await storage.sessions.get(ALICE, S1) is None


class TestRecent:
    @pytest.mark.asyncio
    async def test_the_last_messages_oldest_first(self, storage: Storage) -> None:
        for n in range(5):
            await storage.turns.record(turn(f"t-{n}", question=f"q{n}", answer=f"a{n}", charge=None))
        recent = await storage.messages.recent(ALICE, S1, limit=3)
        assert [(m.index, m.content[0].text) for m in recent] == [(7, "a3"), (8, "q4"), (9, "a4")]
        everything = await storage.messages.recent(ALICE, S1, limit=1000)
        assert [m.index for m in everything] == list(range(10))

    @pytest.mark.asyncio
    async def test_another_users_or_an_empty_session_has_none(self, storage: Storage) -> None:
        await storage.turns.record(turn("t-1"))
        assert await storage.messages.recent(BOB, S1, limit=10) == []
        assert await storage.messages.recent(ALICE, SessionId("s-empty"), limit=10) == []

    @pytest.mark.asyncio
    async def test_the_window_is_bounded(self, storage: Storage) -> None:
        with pytest.raises(InvalidInputError):
            await storage.messages.recent(ALICE, S1, limit=1001)
