"""What a service process measures and traces, and the storage proxy that times every storage call.

Storage is instrumented here, at the edge, by wrapping each repository's port methods (the `Protocol`
methods of `chat_core.ports`), rather than inside chat-storage: chat-storage stays free of Prometheus
and OpenTelemetry, both backends are measured by the same code with the same labels, and a new
repository is measured as soon as it is a field of `Storage`. The proxy costs two clock reads and one
histogram observation per call; with tracing off it starts no span at all.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import time
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import HTTPConnection

from chat_core.errors import ChatError
from chat_storage import Storage

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.trace import Tracer

    from chat_agent.turns import PreparedTurn, TurnOutcome
    from chat_http.metrics import EdgeMetrics

__all__ = ["Telemetry", "TurnMetrics", "instrument_storage", "telemetry_of"]

_STATE_KEY: Final = "telemetry"


@dataclass(frozen=True, slots=True)
class Telemetry:
    """The metrics and tracer of one service process; either is `None` when turned off."""

    metrics: EdgeMetrics | None = None
    """`None` when `CHAT_METRICS_ENABLED=false` (prometheus-client is then not even imported)."""
    tracer: Tracer | None = None
    """`None` when tracing is off (see `chat_http.tracing`)."""

    def span(self, name: str, attributes: dict[str, Any] | None = None) -> typing.ContextManager[Any]:
        """A span of chat_http's tracer as the current span; a no-op context with tracing off."""
        if self.tracer is None:
            return _NO_SPAN
        return self.tracer.start_as_current_span(name, attributes=attributes)


class _NoSpan:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_SPAN: Final = _NoSpan()


def telemetry_of(connection: HTTPConnection | FastAPI) -> Telemetry:
    """The telemetry `create_service_app` set up for this app (a lifespan passes it to the edge)."""
    app = connection.app if isinstance(connection, HTTPConnection) else connection
    telemetry = getattr(app.state, _STATE_KEY, None)
    return telemetry if isinstance(telemetry, Telemetry) else Telemetry()


def store_telemetry(app: FastAPI, telemetry: Telemetry) -> None:
    """Attach `telemetry` to `app` (for `telemetry_of`)."""
    setattr(app.state, _STATE_KEY, telemetry)


def _error_code(exc: Exception) -> str:
    return exc.code.value if isinstance(exc, ChatError) else "unexpected"


def _instrumented(
    method: Callable[..., Awaitable[Any]],
    telemetry: Telemetry,
    *,
    backend: str,
    repository: str,
    operation: str,
) -> Callable[..., Awaitable[Any]]:
    metrics = telemetry.metrics
    tracer = telemetry.tracer
    duration = metrics.storage_duration.labels(backend, repository, operation) if metrics else None
    span_name = f"storage {repository}.{operation}"
    attributes = {"chat.storage.backend": backend, "db.operation.name": f"{repository}.{operation}"}

    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            if tracer is None:
                return await method(*args, **kwargs)
            with tracer.start_as_current_span(span_name, attributes=attributes):
                return await method(*args, **kwargs)
        except Exception as exc:
            if metrics is not None:
                metrics.storage_errors.labels(backend, repository, operation, _error_code(exc)).inc()
            raise
        finally:
            if duration is not None:
                duration.observe(time.perf_counter() - started)

    return call


class _InstrumentedRepository:
    """A repository whose port methods are timed; anything else is the repository's own."""

    def __init__(self, inner: object, methods: dict[str, Callable[..., Awaitable[Any]]]) -> None:
        self._inner = inner
        self.__dict__.update(methods)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _port_operations(port: type) -> list[str]:
    return [name for name, value in vars(port).items() if inspect.iscoroutinefunction(value)]


def instrument_storage(storage: Storage, telemetry: Telemetry) -> Storage:
    """`storage` with every port method (and `ping`) timed and its errors counted.

    Labelled by backend, repository and operation (errors also by code); each call is a span when
    tracing is on.
    """
    if telemetry.metrics is None and telemetry.tracer is None:
        return storage
    hints = typing.get_type_hints(Storage)
    replaced: dict[str, Any] = {}
    for field in dataclasses.fields(Storage):
        port = hints[field.name]
        value = getattr(storage, field.name)
        if field.name == "ping":
            replaced["ping"] = _instrumented(
                value, telemetry, backend=storage.backend, repository="backend", operation="ping"
            )
        elif getattr(port, "_is_protocol", False):
            methods = {
                name: _instrumented(
                    getattr(value, name),
                    telemetry,
                    backend=storage.backend,
                    repository=field.name,
                    operation=name,
                )
                for name in _port_operations(port)
            }
            replaced[field.name] = _InstrumentedRepository(value, methods)
    return dataclasses.replace(storage, **replaced)


class TurnMetrics:
    """Counts chat turns into the metrics (a `chat_agent.turns.TurnObserver`), by managed model."""

    def __init__(self, metrics: EdgeMetrics) -> None:
        self._metrics = metrics

    def turn_started(self, turn: PreparedTurn) -> None:
        """One more turn running."""
        self._metrics.turns_started.labels(turn.managed_model.model_id).inc()
        self._metrics.turns_running.inc()

    def turn_ended(self, outcome: TurnOutcome) -> None:
        """Its result, latencies, tokens and cost."""
        metrics = self._metrics
        model = outcome.turn.managed_model.model_id
        metrics.turns_running.dec()
        if outcome.error_code is None:
            metrics.turns_completed.labels(model).inc()
        else:
            metrics.turns_failed.labels(model, outcome.error_code.value).inc()
        if outcome.first_token_seconds is not None:
            metrics.turn_first_token.labels(model).observe(outcome.first_token_seconds)
        metrics.turn_duration.labels(model).observe(outcome.duration_seconds)
        usage = outcome.usage
        for kind, tokens in (
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
            ("cache_read", usage.cache_read_input_tokens),
            ("cache_write", usage.cache_write_input_tokens),
        ):
            if tokens:
                metrics.turn_tokens.labels(model, kind).inc(tokens)
        if outcome.cost > 0:
            metrics.turn_cost.labels(model).inc(outcome.cost)
