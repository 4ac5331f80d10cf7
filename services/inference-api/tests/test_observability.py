"""Metrics scraped after real turns, and the trace of a turn: request -> turn -> agent -> model, and the
storage writes, with nothing of the conversation or the token in any span."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from inference_testing import (
    SCRIPTED_MODEL_ID,
    ScriptedModels,
    Service,
    managed_model,
    post_turn,
    serve_app,
    storage_for,
    text_cycle,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from chat_core.managed_models import ModelProvider
from chat_http.tracing import REQUEST_ID_ATTRIBUTE, install_tracer_provider
from inference_api.config import Settings
from inference_api.main import create_app

Headers = Callable[..., dict[str, str]]
SECRET_QUESTION = "What does the marmalade-otter-77 password unlock?"
SECRET_ANSWER = "It unlocks the zeppelin-quokka-42 vault."


def metric(text: str, name: str, **labels: str) -> float:
    found = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items())
    ]
    assert len(found) == 1, (name, labels, found)
    return found[0]


class TestTurnMetrics:
    @pytest.mark.asyncio
    async def test_a_completed_and_a_failed_turn_in_the_scraped_metrics(
        self, service: Service, auth: Headers
    ) -> None:
        scripts = iter([[text_cycle("Fine, thanks.", usage=(10, 5))], [[RuntimeError("provider broke")]]])
        service.scripted.script = lambda: next(scripts)
        async with service.client() as client:
            answered = await post_turn(
                client,
                auth("alice"),
                session_id="s-metrics",
                message="How are you?",
                model_id=SCRIPTED_MODEL_ID,
            )
            failed = await post_turn(
                client, auth("alice"), session_id="s-metrics-2", message="Again?", model_id=SCRIPTED_MODEL_ID
            )
            scraped = await client.get("/metrics")
        assert answered.names()[-1] == "done"
        assert failed.error is not None
        assert scraped.status_code == 200
        text = scraped.text
        model = {"model": SCRIPTED_MODEL_ID}
        assert metric(text, "chat_turns_started_total", **model) == 2
        assert metric(text, "chat_turns_completed_total", **model) == 1
        assert metric(text, "chat_turns_failed_total", code="internal_error", **model) == 1
        assert metric(text, "chat_turns_running") == 0
        assert metric(text, "chat_turn_time_to_first_token_seconds_count", **model) == 1
        assert metric(text, "chat_turn_duration_seconds_count", **model) == 2
        assert metric(text, "chat_turn_tokens_total", kind="input", **model) == 10
        assert metric(text, "chat_turn_tokens_total", kind="output", **model) == 5
        cost = answered.of("metadata")[-1]["cost"]
        assert cost > 0
        assert metric(text, "chat_turn_cost_usd_total", **model) == pytest.approx(cost)
        invocations = {"route": "/invocations", "method": "POST"}
        assert metric(text, "chat_http_request_duration_seconds_count", status="200", **invocations) == 1
        assert metric(text, "chat_http_request_duration_seconds_count", status="500", **invocations) == 1
        record = {"backend": "sqlite", "repository": "turns", "operation": "record"}
        assert metric(text, "chat_storage_operation_duration_seconds_count", **record) == 2
        assert "alice" not in text
        assert "s-metrics" not in text


# --- traces ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    """The process's tracer provider (one per process) exporting to memory through the redactor."""
    memory = InMemorySpanExporter()
    install_tracer_provider(memory, service="inference-api", version="test", batch=False)
    yield memory
    memory.shutdown()  # later tests in this process keep the provider, but nothing is kept for them


def everything(span: ReadableSpan) -> str:
    """Every attribute and event of `span`, as text."""
    return json.dumps(
        [
            span.name,
            dict(span.attributes or {}),
            [(event.name, dict(event.attributes or {})) for event in span.events],
            span.status.description,
        ],
        default=str,
    )


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


class TestTurnTrace:
    @pytest.mark.asyncio
    async def test_request_turn_model_and_storage_spans_without_content(
        self, exporter: InMemorySpanExporter, settings: Settings, auth: Headers
    ) -> None:
        exporter.clear()
        headers = auth("alice") | {"X-Request-ID": "trace-req-1"}
        scripted = ScriptedModels(script=lambda: [text_cycle(SECRET_ANSWER)])
        async with storage_for(settings) as storage:
            await storage.managed_models.create(
                managed_model(
                    SCRIPTED_MODEL_ID, provider=ModelProvider.BEDROCK, input_price=3.0, output_price=15.0
                )
            )
            with serve_app(create_app(settings, model_factory=scripted)) as url:
                async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                    turn = await post_turn(
                        client,
                        headers,
                        session_id="s-traced",
                        message=SECRET_QUESTION,
                        model_id=SCRIPTED_MODEL_ID,
                    )
        assert turn.text() == SECRET_ANSWER
        spans = list(exporter.get_finished_spans())
        (request,) = [span for span in spans if span.name == "POST /invocations"]
        assert request.context is not None
        trace_spans = [
            span for span in spans if span.context and span.context.trace_id == request.context.trace_id
        ]
        by_id = {span.context.span_id: span for span in trace_spans if span.context}
        (turn_span,) = [span for span in trace_spans if span.name == "chat.turn"]
        # (the test's own httpx client is instrumented too: its span is the root)
        assert ancestors(turn_span, by_id)[:1] == ["POST /invocations"]
        assert (turn_span.attributes or {})["chat.model_id"] == SCRIPTED_MODEL_ID
        model_spans = [
            span for span in trace_spans if (span.attributes or {}).get("gen_ai.operation.name") == "chat"
        ]
        assert model_spans, sorted(span.name for span in trace_spans)
        assert "chat.turn" in ancestors(model_spans[0], by_id)
        assert any(name.startswith("invoke_agent") for name in ancestors(model_spans[0], by_id))
        assert (model_spans[0].attributes or {})["gen_ai.usage.output_tokens"] == 5
        (write,) = [span for span in trace_spans if span.name == "storage turns.record"]
        assert ancestors(write, by_id)[:1] == ["chat.turn"]
        reads = [span for span in trace_spans if span.name == "storage sessions.get"]
        assert reads
        assert ancestors(reads[0], by_id)[:1] == ["POST /invocations"]
        served = [
            span for span in trace_spans if span is request or "POST /invocations" in ancestors(span, by_id)
        ]
        assert len(served) >= 8
        assert {(span.attributes or {}).get(REQUEST_ID_ATTRIBUTE) for span in served} == {"trace-req-1"}
        token = headers["Authorization"].removeprefix("Bearer ")
        leaked = [
            span.name
            for span in spans
            if any(secret in everything(span) for secret in ("marmalade", "zeppelin", token, "alice"))
        ]
        assert leaked == []
