"""The FastAPI application both services start from: error handlers, CORS and the request context."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from chat_http.errors import ErrorBody, add_exception_handlers
from chat_http.logs import configure_logging
from chat_http.middleware import RequestContextMiddleware
from chat_http.settings import EdgeSettings

__all__ = ["create_service_app", "serve"]

_COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid bearer token"},
    422: {"model": ErrorBody, "description": "Invalid request"},
    500: {"model": ErrorBody, "description": "Unexpected error"},
    503: {"model": ErrorBody, "description": "A dependency is unavailable"},
}


def create_service_app(
    settings: EdgeSettings,
    *,
    service: str,
    title: str,
    version: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Any]],
    expose_headers: Sequence[str] = (),
    responses: dict[int | str, dict[str, Any]] | None = None,
) -> FastAPI:
    """An app with the shared edge installed; the service adds its routers.

    Args:
        settings: the service's settings (CORS origins are read here).
        service: the distribution name, used to name the access logger (`<service>.access`).
        title: the OpenAPI title.
        version: the service's version.
        lifespan: opens what the service needs and yields `lifespan_state(...)`.
        expose_headers: response headers browsers may read besides `X-Request-ID` and `Retry-After`.
        responses: OpenAPI error responses every route can give, besides 401, 422, 500 and 503.
    """
    app = FastAPI(
        title=title,
        version=version,
        lifespan=lifespan,
        responses={**(responses or {}), **_COMMON_RESPONSES},
    )
    add_exception_handlers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["X-Request-ID", *expose_headers, "Retry-After"],
    )
    app.add_middleware(RequestContextMiddleware, service=service)
    return app


def serve(app: FastAPI, settings: EdgeSettings, *, service: str, host: str, port: int) -> None:
    """Run `app` under uvicorn with the service's log format (blocks until the server stops)."""
    configure_logging(settings.log_level, json_lines=settings.log_json, service=service)
    uvicorn.run(app, host=host, port=port, access_log=False, log_config=None)
