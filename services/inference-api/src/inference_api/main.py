"""The inference-api application factory."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from inference_api import __version__
from inference_api.chat.router import router as chat_router
from inference_api.config import Settings, get_settings
from inference_api.errors import ErrorBody, add_exception_handlers
from inference_api.lifespan import lifespan_for
from inference_api.middleware import RequestContextMiddleware
from inference_api.models.base import ModelFactory
from inference_api.ping.router import router as ping_router

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, *, model_factory: ModelFactory | None = None) -> FastAPI:
    """Build the app for `settings` (read from the environment when omitted).

    `model_factory` replaces the provider models; benchmarks and tests pass a scripted model here.
    SSE responses must not be compressed, so no GZip middleware is added.
    """
    settings = settings or get_settings()
    app = FastAPI(
        title="Chat platform inference API",
        version=__version__,
        lifespan=lifespan_for(settings, model_factory=model_factory),
        responses={
            401: {"model": ErrorBody, "description": "Missing or invalid bearer token"},
            422: {"model": ErrorBody, "description": "Invalid request"},
            500: {"model": ErrorBody, "description": "Unexpected error"},
            503: {"model": ErrorBody, "description": "A dependency is unavailable"},
        },
    )
    add_exception_handlers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["X-Request-ID", "X-Session-ID", "Retry-After"],
    )
    app.add_middleware(RequestContextMiddleware)
    app.include_router(ping_router)
    app.include_router(chat_router)
    return app
