"""Traces: off by default (the SDK not even imported), configured by the standard OTEL_* variables, the
request id on every span, storage calls as child spans, and nothing of the content exported."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr, ValidationError
from starlette.requests import Request

from chat_core.ids import SessionId, UserId
from chat_http.app import create_service_app
from chat_http.settings import EdgeSettings
from chat_http.state import ServiceState, lifespan_state, open_edge_resources, service_state
from chat_http.telemetry import telemetry_of
from chat_http.tracing import REQUEST_ID_ATTRIBUTE, TracingSettings, install_tracer_provider

_OTEL_VARIABLES = (
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


class TestTracingSettings:
    def test_off_by_default(self, clean_env: pytest.MonkeyPatch) -> None:
        assert TracingSettings().exporters() == []

    @pytest.mark.parametrize(
        ("variables", "exporters"),
        [
            ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
            ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, ["otlp"]),
            ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
            ({"OTEL_TRACES_EXPORTER": "otlp,console"}, ["otlp", "console"]),
            ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, []),
            ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}, []),
        ],
    )
    def test_the_standard_variables_choose_the_exporters(
        self, clean_env: pytest.MonkeyPatch, variables: dict[str, str], exporters: list[str]
    ) -> None:
        for name, value in variables.items():
            clean_env.setenv(name, value)
        assert TracingSettings().exporters() == exporters

    @pytest.mark.parametrize(
        "variables",
        [
            {"OTEL_TRACES_EXPORTER": "zipkin"},
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
        ],
    )
    def test_what_is_not_supported_fails_at_start_up(
        self, clean_env: pytest.MonkeyPatch, variables: dict[str, str]
    ) -> None:
        for name, value in variables.items():
            clean_env.setenv(name, value)
        with pytest.raises(ValidationError):
            TracingSettings()


_SERVE_ONE_REQUEST = textwrap.dedent(
    """
    import asyncio, json, sys
    from contextlib import asynccontextmanager
    import httpx
    from pydantic import SecretStr
    from chat_http.app import create_service_app
    from chat_http.settings import EdgeSettings
    from chat_http.telemetry import telemetry_of

    @asynccontextmanager
    async def lifespan(app):
        yield

    settings = EdgeSettings(_env_file=None, data_dir=sys.argv[1], dev_jwt_secret=SecretStr("x" * 40))
    app = create_service_app(settings, service="trace-test", title="t", version="1", lifespan=lifespan)

    @app.get("/items/{item_id}")
    async def read_item(item_id: str) -> dict:
        return {"itemId": item_id}

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/items/x?token=secret-query", headers={"X-Request-ID": "req-77"})
            assert response.status_code == 200

    asyncio.run(main())
    print(json.dumps({
        "tracing": telemetry_of(app).tracer is not None,
        "sdk_imported": "opentelemetry.sdk.trace" in sys.modules,
    }), file=sys.stderr)
    """
)


def _run(tmp_path: Path, **variables: str) -> tuple[str, dict[str, Any]]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")} | variables
    done = subprocess.run(
        [sys.executable, "-c", _SERVE_ONE_REQUEST, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout, json.loads(done.stderr.strip().splitlines()[-1])


class TestConfiguredByTheEnvironment:
    def test_without_variables_nothing_is_traced_and_the_sdk_is_not_imported(self, tmp_path: Path) -> None:
        stdout, report = _run(tmp_path)
        assert report == {"tracing": False, "sdk_imported": False}
        assert stdout == ""

    def test_the_console_exporter_prints_the_request_span_with_its_id_and_no_query(
        self, tmp_path: Path
    ) -> None:
        stdout, report = _run(tmp_path, OTEL_TRACES_EXPORTER="console", OTEL_SERVICE_NAME="renamed")
        assert report == {"tracing": True, "sdk_imported": True}
        spans = json.loads("[" + stdout.replace("}\n{", "},\n{") + "]")
        (server,) = [span for span in spans if span["kind"] == "SpanKind.SERVER"]
        assert server["name"] == "GET /items/{item_id}"
        assert server["attributes"][REQUEST_ID_ATTRIBUTE] == "req-77"
        assert server["resource"]["attributes"]["service.name"] == "renamed"
        assert "secret-query" not in stdout


# --- in process, with an in-memory exporter -------------------------------------------------------


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    """The process's tracer provider (one per process) exporting to memory, redacted."""
    memory = InMemorySpanExporter()
    install_tracer_provider(memory, service="chat-http-tests", version="0", batch=False)
    yield memory
    memory.shutdown()  # later tests in this process keep the provider, but nothing is kept for them


def make_app(tmp_path: Path) -> FastAPI:
    settings = EdgeSettings(_env_file=None, data_dir=tmp_path, dev_jwt_secret=SecretStr("x" * 40))  # type: ignore[call-arg]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, ServiceState]]:
        async with AsyncExitStack() as stack:
            telemetry = telemetry_of(app)
            edge = await open_edge_resources(settings, stack, telemetry=telemetry)
            yield lifespan_state(
                ServiceState(
                    settings=settings,
                    storage=edge.storage,
                    verifier=edge.verifier,
                    knowledge=edge.knowledge,
                    telemetry=telemetry,
                )
            )

    app = create_service_app(settings, service="trace-test", title="t", version="1", lifespan=lifespan)

    @app.get("/stored/{session_id}")
    async def read_stored(session_id: str, request: Request) -> dict[str, Any]:
        tracer = trace.get_tracer("test")
        with tracer.start_as_current_span("content") as span:
            span.set_attribute("gen_ai.input.messages", "the user's private words")
            span.set_attribute("gen_ai.usage.input_tokens", 12)
            span.add_event("gen_ai.user.message", {"content": "the user's private words"})
            span.set_attribute("url.full", "https://example.com/path?X-Amz-Signature=abc")
        found = await service_state(request).storage.sessions.get(UserId("alice"), SessionId(session_id))
        return {"found": found is not None}

    return app


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app) as state:

        async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                scope = {**scope, "state": dict(state)}
            await app(scope, receive, send)

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://t") as http:
            yield http


class TestSpans:
    @pytest.mark.asyncio
    async def test_storage_calls_are_child_spans_and_every_span_carries_the_request_id(
        self, exporter: InMemorySpanExporter, tmp_path: Path
    ) -> None:
        exporter.clear()
        async with running(make_app(tmp_path)) as client:
            response = await client.get("/stored/s-1", headers={"X-Request-ID": "req-5"})
        assert response.json() == {"found": False}
        spans = [span for span in exporter.get_finished_spans() if span.attributes]
        by_name = {span.name: span for span in spans}
        server = by_name["GET /stored/{session_id}"]
        storage = by_name["storage sessions.get"]
        assert storage.parent is not None
        assert server.context is not None
        assert storage.parent.span_id == server.context.span_id
        assert storage.attributes is not None
        assert storage.attributes["chat.storage.backend"] == "sqlite"
        request_spans = [
            span for span in spans if span.context and span.context.trace_id == server.context.trace_id
        ]
        assert {span.name for span in request_spans} >= {
            "GET /stored/{session_id}",
            "storage sessions.get",
            "content",
        }
        assert all((span.attributes or {}).get(REQUEST_ID_ATTRIBUTE) == "req-5" for span in request_spans)

    @pytest.mark.asyncio
    async def test_content_never_leaves_the_process(
        self, exporter: InMemorySpanExporter, tmp_path: Path
    ) -> None:
        exporter.clear()
        async with running(make_app(tmp_path)) as client:
            await client.get("/stored/s-1?token=query-secret")
        exported = exporter.get_finished_spans()
        (content,) = [span for span in exported if span.name == "content"]
        assert dict(content.attributes or {}) == {
            "gen_ai.usage.input_tokens": 12,
            "url.full": "https://example.com/path",
            REQUEST_ID_ATTRIBUTE: (content.attributes or {})[REQUEST_ID_ATTRIBUTE],
        }
        assert content.events == ()
        assert not any(
            "private words" in _everything(span) or "query-secret" in _everything(span) for span in exported
        )


def _everything(span: ReadableSpan) -> str:
    """Every attribute and event of `span`, as text."""
    return json.dumps(
        [dict(span.attributes or {}), [(event.name, dict(event.attributes or {})) for event in span.events]],
        default=str,
    )


def test_span_ids_leave_the_random_module_alone(exporter: InMemorySpanExporter) -> None:
    """Ids come from a generator of their own: seeding `random` elsewhere cannot make them repeat."""
    state = random.getstate()
    with trace.get_tracer("test").start_as_current_span("ids") as span:
        assert span.get_span_context().span_id != 0
    assert random.getstate() == state
