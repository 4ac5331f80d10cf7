"""The FastAPI application both services start from, and the server that runs it.

Installed once here: error handlers, CORS, the request context and limits, metrics, traces.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from chat_http.errors import add_exception_handlers, document_error_body, error_doc
from chat_http.logs import configure_logging
from chat_http.middleware import RequestContextMiddleware, RequestLimitsMiddleware
from chat_http.settings import MAX_SERVER_HEAD_BYTES, EdgeSettings
from chat_http.telemetry import Telemetry, store_telemetry
from chat_http.tracing import TracingSettings, configure_tracing, instrument_app, recording_tracer

__all__ = ["create_service_app", "serve"]

logger = logging.getLogger(__name__)

_COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: error_doc("Missing or invalid bearer token"),
    422: error_doc("Invalid request"),
    500: error_doc("Unexpected error"),
    503: error_doc("A dependency is unavailable"),
}

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


def _open_telemetry(settings: EdgeSettings, *, service: str, version: str) -> Telemetry:
    tracing = configure_tracing(TracingSettings(), service=service, version=version)
    metrics = None
    if settings.metrics_enabled:
        from chat_http.metrics import EdgeMetrics

        metrics = EdgeMetrics()
    return Telemetry(metrics=metrics, tracer=recording_tracer() if tracing else None)


def _edge_lifespan(lifespan: Lifespan, settings: EdgeSettings, telemetry: Telemetry) -> Lifespan:
    """`lifespan`, with the metrics served on a port of their own while the app runs (when configured)."""

    @asynccontextmanager
    async def edge_lifespan(app: FastAPI) -> AsyncIterator[Any]:
        metrics = telemetry.metrics
        if metrics is None or settings.metrics_on_service_port:
            async with lifespan(app) as state:
                yield state
            return
        if settings.metrics_port is None:
            logger.warning(
                "metrics are not served: in production set CHAT_METRICS_TOKEN (for /metrics on the service "
                "port) or CHAT_METRICS_PORT (a port of their own)"
            )
            async with lifespan(app) as state:
                yield state
            return
        from prometheus_client import start_http_server

        server, thread = start_http_server(
            settings.metrics_port, addr=settings.metrics_host, registry=metrics.registry
        )
        app.state.metrics_address = server.server_address[:2]
        logger.info("metrics served on http://%s:%s/metrics", *app.state.metrics_address)
        try:
            async with lifespan(app) as state:
                yield state
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

    return edge_lifespan


def create_service_app(
    settings: EdgeSettings,
    *,
    service: str,
    title: str,
    version: str,
    lifespan: Lifespan,
    expose_headers: Sequence[str] = (),
    responses: dict[int | str, dict[str, Any]] | None = None,
    agentcore_runtime: bool = False,
    body_limits: Sequence[tuple[str, int]] = (),
) -> FastAPI:
    """An app with the shared edge installed; the service adds its routers.

    Its lifespan reaches the metrics and tracer through `chat_http.telemetry.telemetry_of(app)` and
    hands them to `open_edge_resources`.

    Args:
        settings: the service's settings (CORS origins and metrics are read here).
        service: the distribution name, used to name the access logger (`<service>.access`) and traces.
        title: the OpenAPI title.
        version: the service's version.
        lifespan: opens what the service needs and yields `lifespan_state(...)`.
        expose_headers: response headers browsers may read besides `X-Request-ID` and `Retry-After`.
        responses: OpenAPI error responses every route can give, besides 401, 422, 500 and 503.
        agentcore_runtime: read the AgentCore Runtime's request headers (`chat_http.runtime`).
        body_limits: (path prefix, bytes) of routes whose bodies may exceed `CHAT_MAX_BODY_BYTES`
            (uploads, chat turns); the first matching prefix applies.
    """
    telemetry = _open_telemetry(settings, service=service, version=version)
    docs = settings.docs_enabled
    app = FastAPI(
        title=title,
        version=version,
        lifespan=_edge_lifespan(lifespan, settings, telemetry),
        responses={**(responses or {}), **_COMMON_RESPONSES},
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    store_telemetry(app, telemetry)
    document_error_body(app)
    add_exception_handlers(app)
    app.add_middleware(
        RequestLimitsMiddleware,
        max_header_bytes=settings.max_header_bytes,
        max_body_bytes=settings.max_body_bytes,
        body_limits=body_limits,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["X-Request-ID", *expose_headers, "Retry-After"],
    )
    app.add_middleware(
        RequestContextMiddleware,
        service=service,
        metrics=telemetry.metrics,
        tracing=telemetry.tracer is not None,
        agentcore_runtime=agentcore_runtime,
    )
    if telemetry.metrics is not None and settings.metrics_on_service_port:
        from chat_http.metrics import metrics_endpoint

        token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
        app.add_api_route(
            "/metrics", metrics_endpoint(telemetry.metrics, token), methods=["GET"], include_in_schema=False
        )
    if telemetry.tracer is not None:
        instrument_app(app)
    return app


def serve(app: FastAPI, settings: EdgeSettings, *, service: str, host: str, port: int) -> None:
    """Run `app` under uvicorn with the service's log format (blocks until the server stops)."""
    configure_logging(settings.log_level, json_lines=settings.log_json, service=service)
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        # h11 keeps a request head in memory up to this size; the request-limits middleware answers
        # heads over `CHAT_MAX_HEADER_BYTES` with a 431, so the server's own refusal (a plain 400)
        # starts only past this hard bound.
        http="h11",
        h11_max_incomplete_event_size=MAX_SERVER_HEAD_BYTES,
    )
