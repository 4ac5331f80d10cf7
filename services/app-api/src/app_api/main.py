"""The app-api application factory."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app_api import __version__
from app_api.config import Settings, get_settings
from app_api.errors import ErrorBody, add_exception_handlers
from app_api.health.router import router as health_router
from app_api.lifespan import lifespan_for
from app_api.middleware import RequestContextMiddleware

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for `settings` (read from the environment when omitted)."""
    settings = settings or get_settings()
    app = FastAPI(
        title="Chat platform app API",
        version=__version__,
        lifespan=lifespan_for(settings),
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
        expose_headers=["X-Request-ID", "Retry-After"],
    )
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health_router)
    return app
