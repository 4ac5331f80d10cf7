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

from chat_core.costs import period_of
from chat_core.ids import SessionId, UserId
from chat_core.messages import MessageStatus
from chat_core.sessions import SessionMetadata
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
