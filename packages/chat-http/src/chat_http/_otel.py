"""The OpenTelemetry SDK side of `chat_http.tracing`, imported only when tracing is on.

Redaction happens in the exporter, after every instrumentation (ours, FastAPI's, strands-agents',
botocore's) has recorded its span: what leaves the process is the span's shape, timings, models,
token counts, routes and ids, never what people wrote or what a model answered.
"""

from __future__ import annotations

import logging
import os
import random
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Status

from chat_core.logs import request_id_var
from chat_http.tracing import REQUEST_ID_ATTRIBUTE

logger = logging.getLogger(__name__)

_CONTENT_ATTRIBUTES: Final = frozenset(
    {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "gen_ai.prompt",
        "gen_ai.completion",
        "exception.message",
        "exception.stacktrace",
    }
)
"""Attributes that carry what people wrote, what a model or tool answered, or an exception's text."""
_HEADER_PREFIXES: Final = ("http.request.header.", "http.response.header.")
"""Captured headers (only when OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_* asks): tokens, cookies."""
_URL_ATTRIBUTES: Final = frozenset({"http.url", "url.full", "http.target"})
_KEPT_EVENTS: Final = frozenset({"exception"})


def _without_query(value: str) -> str:
    parts = urlsplit(value)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _clean_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        if key in _CONTENT_ATTRIBUTES or key == "url.query" or key.startswith(_HEADER_PREFIXES):
            continue
        cleaned[key] = _without_query(value) if key in _URL_ATTRIBUTES and isinstance(value, str) else value
    return cleaned


def redact(span: ReadableSpan) -> ReadableSpan:
    """A copy of `span` without what people wrote, models answered or exceptions said.

    Content attributes, events (but an exception's type) and query strings are dropped; an error
    status keeps its code but not its description.
    """
    events = [
        Event(event.name, _clean_attributes(event.attributes), event.timestamp)
        for event in span.events
        if event.name in _KEPT_EVENTS
    ]
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=_clean_attributes(span.attributes),
        events=events,
        links=span.links,
        kind=span.kind,
        status=Status(span.status.status_code),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class RedactingSpanExporter(SpanExporter):
    """Exports through `exporter` what `redact` leaves of each span."""

    def __init__(self, exporter: SpanExporter) -> None:
        self._exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Redact, then export."""
        return self._exporter.export([redact(span) for span in spans])

    def shutdown(self) -> None:
        """Shut the wrapped exporter down."""
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the wrapped exporter."""
        return self._exporter.force_flush(timeout_millis)


class RequestIdSpanProcessor(SpanProcessor):
    """Stamps every span started while a request is served with its request id.

    The request's own server span starts before the id is known; the request-context middleware
    stamps that one.
    """

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        """Add the request id, if a request is being served."""
        request_id = request_id_var.get()
        if request_id is not None:
            span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)


class OwnRandomIdGenerator(IdGenerator):
    """Trace and span ids from a generator of their own, seeded from the operating system.

    OpenTelemetry's default draws from the `random` module's shared state: code that seeds it (a script's
    `random.seed(7)`) would make ids repeat across processes, and every span would move a state that
    other code (property-based tests, for one) expects only itself to move.
    """

    def __init__(self) -> None:
        self._random = random.Random()  # noqa: S311  # ids, not secrets
        os.register_at_fork(after_in_child=self._random.seed)

    def generate_span_id(self) -> int:
        """A random non-zero 64-bit id."""
        span_id = 0
        while span_id == trace.INVALID_SPAN_ID:
            span_id = self._random.getrandbits(64)
        return span_id

    def generate_trace_id(self) -> int:
        """A random non-zero 128-bit id."""
        trace_id = 0
        while trace_id == trace.INVALID_TRACE_ID:
            trace_id = self._random.getrandbits(128)
        return trace_id


_INSTALLED: Final[weakref.WeakSet[trace.TracerProvider]] = weakref.WeakSet()


def installed_here(provider: trace.TracerProvider) -> bool:
    """Whether `install` set this provider up (so its exporters redact)."""
    return provider in _INSTALLED


def install(exporter: SpanExporter, *, service: str, version: str, batch: bool) -> trace.TracerProvider:
    """Add `exporter` (redacted) to the global SDK provider, creating and installing it when needed."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        detected = OTELResourceDetector().detect()
        provider = TracerProvider(
            resource=Resource.create(
                {"service.name": service, "service.version": version} | dict(detected.attributes)
            ),
            id_generator=OwnRandomIdGenerator(),
        )
        trace.set_tracer_provider(provider)
    if not installed_here(provider):
        provider.add_span_processor(RequestIdSpanProcessor())
        _INSTALLED.add(provider)
    redacting = RedactingSpanExporter(exporter)
    provider.add_span_processor(BatchSpanProcessor(redacting) if batch else SimpleSpanProcessor(redacting))
    return provider


def exporter(name: str) -> SpanExporter:
    """The exporter an `OTEL_TRACES_EXPORTER` name stands for (it reads its own `OTEL_EXPORTER_*`)."""
    if name == "console":
        return ConsoleSpanExporter()
    assert name == "otlp", "TracingSettings accepts otlp and console only"
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def instrument_clients() -> None:
    """Client spans for httpx (OpenAI-compatible providers, OIDC) and botocore (Bedrock), once."""
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    botocore = BotocoreInstrumentor()  # type: ignore[no-untyped-call]  # its __init__ has no annotations
    for instrumentor in (HTTPXClientInstrumentor(), botocore):
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()
