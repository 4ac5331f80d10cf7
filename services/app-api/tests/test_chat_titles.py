"""`POST /chat/generate-title`: model titles, the fallback, and never overwriting a title already set."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app_api.chat.service import clean_title, generate_title, suggest_title
from chat_core.identity import User
from chat_core.ids import SessionId, UserId
from chat_core.sessions import SessionUpdate
from chat_storage import LocalStorageConfig, open_storage

Api = Callable[..., Any]
CheckError = Callable[..., dict[str, Any]]
Serve = Callable[[FastAPI], AbstractContextManager[str]]
LONG = "Could you help me plan a three day walking trip through the Scottish highlands in late spring"


def title_of(client: httpx.Client, session_id: str, text: str) -> str:
    response = client.post("/chat/generate-title", json={"session_id": session_id, "input": text})
    assert response.status_code == 200, response.text
    assert response.json()["session_id"] == session_id
    title: str = response.json()["title"]
    return title


class TestFallback:
    def test_first_words_cut_at_a_word_boundary(self, api: Api) -> None:
        alice = api()
        title = title_of(alice, "s-1", LONG)
        assert title == "Could you help me plan a three day walking trip"
        assert len(title) <= 50
        assert alice.get("/sessions/s-1/metadata").json()["title"] == title

    def test_a_user_title_is_never_overwritten(self, api: Api) -> None:
        alice = api()
        alice.put("/sessions/s-1/metadata", json={"title": "My trip"})
        assert title_of(alice, "s-1", LONG) == "My trip"
        assert alice.get("/sessions/s-1/metadata").json()["title"] == "My trip"

    def test_a_second_call_keeps_the_first_title(self, api: Api) -> None:
        alice = api()
        first = title_of(alice, "s-1", LONG)
        assert title_of(alice, "s-1", "something else entirely") == first

    def test_empty_input_gives_the_default_title(self, api: Api) -> None:
        assert title_of(api(), "s-1", "   ") == "New Conversation"

    def test_only_the_first_2000_characters_are_read(self) -> None:
        class Recorder:
            seen = ""

            async def generate(self, text: str) -> str:
                Recorder.seen = text
                return "Title"

        asyncio.run(suggest_title(Recorder(), "x" * 5000, time_limit=5))
        assert len(Recorder.seen) == 2000

    def test_a_bad_session_id_is_422(self, api: Api, check_error: CheckError) -> None:
        response = api().post("/chat/generate-title", json={"session_id": "a/b", "input": "hi"})
        check_error(response, 422, "validation_error")


class TestRace:
    @pytest.mark.asyncio
    async def test_a_title_set_while_generating_wins(self, tmp_path: Path) -> None:
        """The model answers only after the user renamed the session: the conditional write loses."""
        async with open_storage(LocalStorageConfig(data_dir=tmp_path)) as storage:
            user = User(user_id=UserId("alice"), email="alice@example.com")
            await storage.sessions.update(user.user_id, SessionId("s-1"), SessionUpdate())

            class SlowModel:
                async def generate(self, text: str) -> str:
                    await storage.sessions.update(
                        user.user_id, SessionId("s-1"), SessionUpdate(title="Renamed")
                    )
                    return "Generated"

            title = await generate_title(storage.sessions, SlowModel(), user, "s-1", LONG, time_limit=5)
            stored = await storage.sessions.get(user.user_id, SessionId("s-1"))
        assert title == "Renamed"
        assert stored is not None
        assert stored.title == "Renamed"

    @pytest.mark.asyncio
    async def test_an_unrelated_concurrent_write_does_not_lose_the_title(self, tmp_path: Path) -> None:
        async with open_storage(LocalStorageConfig(data_dir=tmp_path)) as storage:
            user = User(user_id=UserId("alice"), email="alice@example.com")
            await storage.sessions.update(user.user_id, SessionId("s-1"), SessionUpdate())

            class BusyModel:
                async def generate(self, text: str) -> str:
                    await storage.sessions.update(user.user_id, SessionId("s-1"), SessionUpdate(starred=True))
                    return "Generated"

            title = await generate_title(storage.sessions, BusyModel(), user, "s-1", LONG, time_limit=5)
            stored = await storage.sessions.get(user.user_id, SessionId("s-1"))
        assert title == "Generated"
        assert stored is not None
        assert (stored.title, stored.starred) == ("Generated", True)


class FakeModels:
    """An OpenAI-compatible chat endpoint and a Bedrock `Converse` endpoint, scripted per test."""

    def __init__(self) -> None:
        self.answer: str | None = '"Highland Walking Trip"'
        self.delay = 0.0
        self.requests: list[dict[str, Any]] = []
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self.openai)
        self.app.post("/model/{model_id}/converse")(self.bedrock)

    async def _wait(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = await request.json()
        self.requests.append(body)
        await asyncio.sleep(self.delay)
        return body

    async def openai(self, request: Request) -> JSONResponse:
        await self._wait(request)
        if self.answer is None:
            return JSONResponse({"error": {"message": "overloaded"}}, status_code=500)
        message = {"role": "assistant", "content": self.answer}
        return JSONResponse({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})

    async def bedrock(self, model_id: str, request: Request) -> JSONResponse:
        await self._wait(request)
        if self.answer is None:
            return JSONResponse(
                {"message": "boom"}, status_code=400, headers={"x-amzn-ErrorType": "ValidationException"}
            )
        return JSONResponse(
            {
                "output": {"message": {"role": "assistant", "content": [{"text": self.answer}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 5, "outputTokens": 3, "totalTokens": 8},
                "metrics": {"latencyMs": 1},
            }
        )


@pytest.fixture(params=["openai", "bedrock"])
def model_app(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    serve: Serve,
    settings_for: Callable[..., Any],
    start_app: Callable[[Any], AbstractContextManager[Any]],
) -> Iterator[tuple[FakeModels, Any]]:
    fake = FakeModels()
    with serve(fake.app) as url:
        if request.param == "openai":
            extra = {"title_openai_base_url": f"{url}/v1", "title_model": "small-model"}
        else:
            extra = {"title_bedrock_endpoint_url": url, "title_model": "us.anthropic.claude-haiku"}
        settings = settings_for(tmp_path, title_provider=request.param, title_timeout=0.5, **extra)
        with start_app(settings) as live:
            yield fake, live


class TestTitleModel:
    def test_the_model_title_is_cleaned_and_stored(
        self, model_app: tuple[FakeModels, Any], auth: Callable[..., Any]
    ) -> None:
        fake, live = model_app
        with httpx.Client(base_url=live.base_url, headers=auth("alice")) as alice:
            assert title_of(alice, "s-1", LONG) == "Highland Walking Trip"
        assert LONG in str(fake.requests[0])

    def test_a_failing_model_falls_back(
        self, model_app: tuple[FakeModels, Any], auth: Callable[..., Any]
    ) -> None:
        fake, live = model_app
        fake.answer = None
        with httpx.Client(base_url=live.base_url, headers=auth("alice")) as alice:
            assert title_of(alice, "s-1", LONG) == "Could you help me plan a three day walking trip"

    def test_a_slow_model_falls_back_in_time(
        self, model_app: tuple[FakeModels, Any], auth: Callable[..., Any]
    ) -> None:
        fake, live = model_app
        fake.delay = 3.0  # far beyond the 0.5 s limit, so load on the machine cannot blur the line
        with httpx.Client(base_url=live.base_url, headers=auth("alice"), timeout=10) as alice:
            started = time.monotonic()
            title = title_of(alice, "s-1", LONG)
            elapsed = time.monotonic() - started
        assert title == "Could you help me plan a three day walking trip"
        assert elapsed < 2.5


class TestCleanTitle:
    @pytest.mark.parametrize(
        ("answer", "title"),
        [
            ('"Trip Planning"', "Trip Planning"),
            ("Title: **Otters**\nMore text", "Otters"),
            ("\n\n  Spring   walk  \n", "Spring walk"),
            ("''", ""),
        ],
    )
    def test_answers_become_titles(self, answer: str, title: str) -> None:
        assert clean_title(answer) == title
