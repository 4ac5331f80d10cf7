"""A turn is stored completely and exactly once, whatever the client does and however many run at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest
from inference_testing import (
    ScriptedModels,
    Service,
    managed_model,
    post_turn,
    serve_app,
    sse_events,
    storage_for,
    text_cycle,
)

from chat_agent.models.base import Grounding, ModelRequest
from chat_agent.turns import PreparedTurn, StorageTurnStore, TurnPolicy, TurnRunner
from chat_core.costs import period_of
from chat_core.errors import UnavailableError
from chat_core.identity import User
from chat_core.ids import SessionId, UserId
from chat_core.messages import ContentBlock, MessageDraft, MessageStatus
from chat_core.ports import TurnRepository
from chat_core.sessions import SessionMetadata
from chat_core.turns import RecordedTurn, TurnRecord
from inference_api.config import Settings
from inference_api.main import create_app

Headers = Callable[..., dict[str, str]]
ALICE = UserId("alice")
LONG_ANSWER = " ".join(f"word{i}" for i in range(40))


async def wait_for_turns(
    service: Service, session_id: str, turns: int, within: float = 10.0
) -> SessionMetadata:
    """The session once it counts `turns` turns (the last write of a stored turn)."""
    deadline = time.monotonic() + within
    while True:
        session = await service.storage.sessions.get(ALICE, SessionId(session_id))
        if (session is not None and session.message_count >= turns) or time.monotonic() > deadline:
            assert session is not None
            return session
        await asyncio.sleep(0.05)


class TestClientDisconnect:
    @pytest.mark.asyncio
    async def test_a_turn_is_stored_completely_after_the_client_leaves(
        self, service: Service, auth: Headers
    ) -> None:
        service.scripted.script = lambda: [text_cycle(LONG_ANSWER, pause=0.03)]
        received: list[str] = []
        async with service.client() as client:
            body = {"session_id": "s-gone", "message": "Tell me a long story"}
            async with client.stream("POST", "/invocations", json=body, headers=auth("alice")) as response:
                assert response.status_code == 200
                async for name, _ in sse_events(response):
                    received.append(name)
                    if received.count("content_block_delta") == 3:
                        break  # leave mid-stream: the connection closes with the block
        assert "done" not in received
        session = await wait_for_turns(service, "s-gone", 1)
        assert session.message_count == 1
        messages = (await service.storage.messages.list(ALICE, SessionId("s-gone"))).items
        assert [(m.role, m.status) for m in messages] == [("user", "complete"), ("assistant", "complete")]
        assert messages[1].content[0].text == LONG_ANSWER
        summary = await service.storage.costs.summary(ALICE, period_of(messages[1].created_at))
        assert summary.total_requests == 1


class TestConcurrentTurns:
    @pytest.mark.asyncio
    async def test_every_turn_is_counted_and_stored_once(self, service: Service, auth: Headers) -> None:
        service.scripted.script = lambda: [text_cycle("An answer with a few words.", pause=0.005)]
        turns = 6
        async with service.client() as client:
            assert (
                await post_turn(client, auth("alice"), session_id="busy", message="warm up")
            ).status == 200
            results = await asyncio.gather(
                *(
                    post_turn(client, auth("alice"), session_id="busy", message=f"question {i}")
                    for i in range(turns)
                )
            )
        assert [result.status for result in results] == [200] * turns
        assert all(result.names()[-1] == "done" for result in results)
        messages = (await service.storage.messages.list(ALICE, SessionId("busy"))).items
        assert [m.index for m in messages] == list(range(2 * (turns + 1)))
        questions = [m.content[0].text for m in messages if m.role == "user"]
        assert sorted(question or "" for question in questions) == sorted(
            ["warm up", *(f"question {i}" for i in range(turns))]
        )
        assert [m.role for m in messages] == ["user", "assistant"] * (turns + 1), (
            "each answer follows its question"
        )
        assert {m.status for m in messages} == {MessageStatus.COMPLETE}
        ids = {result.of("metadata")[-1]["messageId"] for result in results}
        assert len(ids) == turns
        session = await service.storage.sessions.get(ALICE, SessionId("busy"))
        assert session is not None
        assert session.message_count == turns + 1


class TestShutdown:
    @pytest.mark.asyncio
    async def test_shutdown_waits_for_running_turns_to_be_stored(
        self, settings: Settings, auth: Headers
    ) -> None:
        scripted = ScriptedModels(script=lambda: [text_cycle(LONG_ANSWER, pause=0.02)])
        async with storage_for(settings) as storage:
            await storage.managed_models.create(managed_model())
            with serve_app(create_app(settings, model_factory=scripted)) as url:
                async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                    body = {"session_id": "s-stop", "message": "Keep going"}
                    async with client.stream(
                        "POST", "/invocations", json=body, headers=auth("alice")
                    ) as response:
                        async for name, _ in sse_events(response):
                            if name == "content_block_delta":
                                break
            # The server has stopped: its lifespan waited for the turn before closing storage.
            # (With CHAT_SHUTDOWN_GRACE_SECONDS=0 the turn is cancelled and stored as failed instead.)
            session = await storage.sessions.get(ALICE, SessionId("s-stop"))
            assert session is not None
            assert session.message_count == 1
            messages = (await storage.messages.list(ALICE, SessionId("s-stop"))).items
            assert messages[1].status is MessageStatus.COMPLETE
            assert messages[1].content[0].text == LONG_ANSWER


class FakeTurnRepository:
    """The real repository, except that the answer of its first write is lost after the write (a
    connection dropped after the commit): the turn is stored, but the caller sees a failure."""

    def __init__(self, real: TurnRepository) -> None:
        self._real = real
        self.calls = 0

    async def record(self, turn: TurnRecord) -> RecordedTurn:
        self.calls += 1
        recorded = await self._real.record(turn)
        if self.calls == 1:
            raise UnavailableError("The answer of the storage was lost.")
        return recorded


class TestLateStorageFailure:
    @pytest.mark.asyncio
    async def test_a_turn_whose_write_answer_was_lost_is_stored_once(self, settings: Settings) -> None:
        async with storage_for(settings) as storage:
            turns = FakeTurnRepository(storage.turns)
            model = managed_model()
            turn = PreparedTurn(
                user=User(user_id=ALICE, email="alice@example.com"),
                session_id=SessionId("s-lost"),
                managed_model=model,
                model=ScriptedModels(script=lambda: [text_cycle("The answer.")])(
                    ModelRequest(
                        model, temperature=0.5, max_tokens=None, caching=False, grounding=Grounding("q")
                    )
                ),
                system_prompt="Be brief.",
                prompt=[{"text": "The question?"}],
                history=[],
                tools=[],
                citations=[],
                user_message=MessageDraft(role="user", content=[ContentBlock.of_text("The question?")]),
                preferences={},
                started=time.perf_counter(),
            )
            runner = TurnRunner(TurnPolicy(max_attempts=1, initial_delay=0, window_messages=40))
            frames = b"".join([frame async for frame in await runner.start(turn, StorageTurnStore(turns))])
            assert b"event: stream_error" in frames
            assert frames.endswith(b"event: done\ndata: {}\n\n")
            assert turns.calls == 2, "the failure path stored the turn again, under the same turn id"
            messages = (await storage.messages.list(ALICE, SessionId("s-lost"))).items
            assert [(m.role, m.status) for m in messages] == [("user", "complete"), ("assistant", "complete")]
            session = await storage.sessions.get(ALICE, SessionId("s-lost"))
            assert session is not None
            assert session.message_count == 1
            assert (await storage.costs.summary(ALICE, period_of(messages[1].created_at))).total_requests == 1
