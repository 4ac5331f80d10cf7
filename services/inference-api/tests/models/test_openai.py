"""The `openai` provider: the real strands `OpenAIModel` and openai client against a local fake server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from inference_testing import (
    managed_model,
    post_turn,
    seed_tools,
    serve_app,
    storage_for,
    validate_events,
)
from pydantic import SecretStr

from chat_core.ids import SessionId, UserId
from chat_core.managed_models import ModelProvider
from inference_api.config import Settings
from inference_api.main import create_app

Headers = Callable[..., dict[str, str]]


@dataclass
class FakeOpenAI:
    """An OpenAI-compatible `/v1/chat/completions` that streams chunks as real servers do."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    fail_with: int | None = None

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions", response_model=None)
        async def completions(request: Request) -> StreamingResponse | JSONResponse:
            body = await request.json()
            self.requests.append(body)
            self.authorizations.append(request.headers.get("authorization", ""))
            if self.fail_with is not None:
                return JSONResponse(
                    {"error": {"message": "internal detail", "type": "server_error"}},
                    status_code=self.fail_with,
                )
            return StreamingResponse(self._chunks(body), media_type="text/event-stream")

        return app

    def _chunks(self, body: dict[str, Any]) -> Iterator[str]:
        def chunk(
            delta: dict[str, Any] | None, finish: str | None = None, usage: dict[str, int] | None = None
        ) -> str:
            choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
            payload: dict[str, Any] = {
                "id": "c-1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": body["model"],
                "choices": choices,
            }
            if usage is not None:
                payload["usage"] = usage
            return f"data: {json.dumps(payload)}\n\n"

        last = body["messages"][-1]
        wants_tool = body.get("tools") and last["role"] == "user" and "add" in json.dumps(last["content"])
        yield chunk({"role": "assistant", "content": ""})
        if wants_tool:
            yield chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call-1",
                            "type": "function",
                            "function": {"name": "calculator", "arguments": ""},
                        }
                    ]
                }
            )
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"expression": '}}]})
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"2 + 2"}'}}]})
            yield chunk({}, "tool_calls")
        else:
            reply = (
                "The tool said 4." if last["role"] == "tool" else "Hello from an OpenAI-compatible server."
            )
            for word in reply.split(" "):
                yield chunk({"content": word + " "})
            yield chunk({}, "stop")
        yield chunk(None, usage={"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19})
        yield "data: [DONE]\n\n"


@dataclass
class Running:
    url: str
    fake: FakeOpenAI


@pytest_asyncio.fixture
async def openai_service(settings: Settings) -> AsyncIterator[Running]:
    fake = FakeOpenAI()
    with serve_app(fake.app()) as fake_url:
        configured = settings.model_copy(
            update={"openai_base_url": f"{fake_url}/v1", "openai_api_key": SecretStr("test-key")}
        )
        async with storage_for(configured) as storage:
            await storage.managed_models.create(
                managed_model("fake-gpt", provider=ModelProvider.OPENAI, input_price=1.0, output_price=2.0)
            )
            await seed_tools(storage)
        with serve_app(create_app(configured)) as url:
            yield Running(url, fake)


@pytest.mark.asyncio
async def test_a_text_turn_streams_through_the_real_client(
    openai_service: Running, auth: Headers, settings: Settings
) -> None:
    async with httpx.AsyncClient(base_url=openai_service.url, timeout=30) as client:
        turn = await post_turn(
            client,
            auth("alice"),
            session_id="s-1",
            message="Hi",
            model_id="fake-gpt",
            temperature=0.3,
            max_tokens=100,
        )
    assert turn.status == 200
    validate_events(turn.events)
    assert turn.text().strip() == "Hello from an OpenAI-compatible server."
    assert turn.of("metadata")[-1]["usage"] == {"inputTokens": 12, "outputTokens": 7, "totalTokens": 19}
    assert turn.of("metadata")[-1]["cost"] == pytest.approx(12 * 1 / 1e6 + 7 * 2 / 1e6)
    sent = openai_service.fake.requests[0]
    assert sent["model"] == "fake-gpt"
    assert (sent["temperature"], sent["max_tokens"], sent["stream"]) == (0.3, 100, True)
    assert sent["messages"][0]["role"] == "system"
    assert openai_service.fake.authorizations == ["Bearer test-key"]
    async with storage_for(settings) as storage:
        messages = (await storage.messages.list(UserId("alice"), SessionId("s-1"))).items
    assert messages[1].metadata is not None
    assert messages[1].metadata.model_info is not None
    assert messages[1].metadata.model_info.provider == "openai"


@pytest.mark.asyncio
async def test_a_tool_call_round_trip(openai_service: Running, auth: Headers) -> None:
    async with httpx.AsyncClient(base_url=openai_service.url, timeout=30) as client:
        turn = await post_turn(
            client,
            auth("alice"),
            session_id="s-2",
            message="Please add two and two",
            model_id="fake-gpt",
            enabled_tools=["calculator"],
        )
    assert turn.status == 200
    validate_events(turn.events)
    assert turn.of("tool_use")[0]["tool_use"]["input"] == {"expression": "2 + 2"}
    assert turn.of("tool_result")[0]["tool_result"]["content"] == [{"text": "4"}]
    assert "The tool said 4." in turn.text()
    second = openai_service.fake.requests[1]["messages"]
    assert second[-1]["role"] == "tool"
    assert turn.of("metadata")[-1]["usage"]["totalTokens"] == 38


@pytest.mark.asyncio
async def test_a_provider_outage_before_the_first_event_is_503(
    openai_service: Running, auth: Headers
) -> None:
    openai_service.fake.fail_with = 500
    async with httpx.AsyncClient(base_url=openai_service.url, timeout=30) as client:
        turn = await post_turn(client, auth("alice"), session_id="s-3", message="Hi", model_id="fake-gpt")
    assert turn.status == 503
    assert turn.error is not None
    assert turn.error["code"] == "service_unavailable"
    assert "internal detail" not in turn.error["message"]
    assert turn.headers["retry-after"] == "5"
