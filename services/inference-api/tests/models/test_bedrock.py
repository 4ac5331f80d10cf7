"""The `bedrock` provider: the real strands `BedrockModel` (botocore) against a local ConverseStream fake."""

from __future__ import annotations

import asyncio
import json
import struct
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from inference_testing import managed_model, post_turn, serve_app, storage_for, validate_events
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from chat_core.managed_models import ModelProvider
from chat_http.tracing import install_tracer_provider
from inference_api.config import Settings
from inference_api.main import create_app

Headers = Callable[..., dict[str, str]]
MODEL_ID = "us.anthropic.claude-test-v1:0"


def _header(name: str, value: str) -> bytes:
    encoded_name, encoded_value = name.encode(), value.encode()
    return (
        struct.pack("B", len(encoded_name))
        + encoded_name
        + b"\x07"
        + struct.pack(">H", len(encoded_value))
        + encoded_value
    )


def frame(event_type: str, payload: dict[str, Any]) -> bytes:
    """One AWS event-stream message, as botocore parses ConverseStream responses."""
    headers = (
        _header(":event-type", event_type)
        + _header(":content-type", "application/json")
        + _header(":message-type", "event")
    )
    body = json.dumps(payload).encode()
    prelude = struct.pack(">II", 12 + len(headers) + len(body) + 4, len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + headers + body
    return message + struct.pack(">I", zlib.crc32(message))


@dataclass
class FakeBedrock:
    requests: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    throttle: bool = False

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/model/{model_id}/converse-stream", response_model=None)
        async def converse_stream(model_id: str, request: Request) -> Response:
            self.paths.append(model_id)
            self.requests.append(await request.json())
            if self.throttle:
                return JSONResponse(
                    {"message": "Rate exceeded"},
                    status_code=429,
                    headers={"x-amzn-ErrorType": "ThrottlingException"},
                )
            return StreamingResponse(self._frames(), media_type="application/vnd.amazon.eventstream")

        return app

    @staticmethod
    def _frames() -> Iterator[bytes]:
        yield frame("messageStart", {"role": "assistant"})
        for word in ("Hello ", "from ", "Bedrock."):
            yield frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": word}})
        yield frame("contentBlockStop", {"contentBlockIndex": 0})
        yield frame("messageStop", {"stopReason": "end_turn"})
        yield frame(
            "metadata",
            {"usage": {"inputTokens": 21, "outputTokens": 3, "totalTokens": 24}, "metrics": {"latencyMs": 9}},
        )


@dataclass
class Running:
    url: str
    fake: FakeBedrock


@pytest_asyncio.fixture
async def bedrock_service(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> AsyncIterator[Running]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(tmp_path / "absent"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "absent"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    fake = FakeBedrock()
    with serve_app(fake.app()) as fake_url:
        configured = settings.model_copy(update={"bedrock_endpoint_url": fake_url})
        async with storage_for(configured) as storage:
            await storage.managed_models.create(
                managed_model(MODEL_ID, provider=ModelProvider.BEDROCK, input_price=1.0, output_price=5.0)
            )
        with serve_app(create_app(configured)) as url:
            yield Running(url, fake)


@pytest.mark.asyncio
async def test_a_turn_streams_through_botocore(bedrock_service: Running, auth: Headers) -> None:
    async with httpx.AsyncClient(base_url=bedrock_service.url, timeout=30) as client:
        turn = await post_turn(
            client,
            auth("alice"),
            session_id="s-1",
            message="Hi",
            model_id=MODEL_ID,
            temperature=0.1,
            max_tokens=50,
        )
    assert turn.status == 200
    validate_events(turn.events)
    assert turn.text() == "Hello from Bedrock."
    assert turn.of("metadata")[-1]["usage"] == {"inputTokens": 21, "outputTokens": 3, "totalTokens": 24}
    sent = bedrock_service.fake.requests[0]
    assert bedrock_service.fake.paths == [MODEL_ID]
    assert sent["inferenceConfig"]["temperature"] == 0.1
    assert sent["inferenceConfig"]["maxTokens"] == 50
    assert sent["messages"][-1]["content"][0]["text"] == "Hi"


@pytest.mark.asyncio
async def test_throttling_is_retried_then_reported_as_429(bedrock_service: Running, auth: Headers) -> None:
    bedrock_service.fake.throttle = True
    async with httpx.AsyncClient(base_url=bedrock_service.url, timeout=30) as client:
        turn = await post_turn(client, auth("alice"), session_id="s-2", message="Hi", model_id=MODEL_ID)
    assert turn.status == 429
    assert turn.error is not None
    assert turn.error["code"] == "rate_limit_exceeded"
    assert len(bedrock_service.fake.requests) == 2, "two attempts (CHAT_MODEL_MAX_ATTEMPTS=2), no backoff"


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    """The process's tracer provider (one per process) exporting to memory through the redactor."""
    memory = InMemorySpanExporter()
    install_tracer_provider(memory, service="inference-api", version="test", batch=False)
    yield memory
    memory.shutdown()  # later tests in this process keep the provider, but nothing is kept for them


@pytest.mark.asyncio
async def test_the_bedrock_call_is_a_botocore_span_under_the_turn_without_content(
    exporter: InMemorySpanExporter, bedrock_service: Running, auth: Headers
) -> None:
    exporter.clear()
    async with httpx.AsyncClient(base_url=bedrock_service.url, timeout=30) as client:
        turn = await post_turn(
            client, auth("alice"), session_id="s-3", message="Where is walrus-secret-19?", model_id=MODEL_ID
        )
    assert turn.text() == "Hello from Bedrock."
    deadline = time.monotonic() + 10  # the server ends the request's span just after the last bytes
    while not any(span.name == "POST /invocations" for span in exporter.get_finished_spans()):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    spans = {span.context.span_id: span for span in exporter.get_finished_spans() if span.context}
    (call,) = [
        span for span in spans.values() if (span.attributes or {}).get("rpc.method") == "ConverseStream"
    ]
    chain = []
    parent = call.parent
    while parent is not None and parent.span_id in spans:
        chain.append(spans[parent.span_id].name)
        parent = spans[parent.span_id].parent
    assert chain.index("chat.turn") < chain.index("POST /invocations")
    exported = json.dumps(
        [[dict(s.attributes or {}), [dict(e.attributes or {}) for e in s.events]] for s in spans.values()],
        default=str,
    )
    assert "walrus" not in exported
    assert "Hello from" not in exported
