"""The inference-api application factory."""

from __future__ import annotations

from chat_http.startup import startup_imports

with startup_imports():  # see chat_http.startup: a fresh process pays for every import
    from fastapi import FastAPI

    from chat_agent.models.base import ModelFactory
    from chat_http.app import create_service_app
    from inference_api import __version__
    from inference_api.chat.router import router as chat_router
    from inference_api.config import Settings, get_settings
    from inference_api.lifespan import lifespan_for
    from inference_api.ping.router import router as ping_router


__all__ = ["create_app", "invocation_body_limit"]


_JSON_BYTES_PER_CHAR = 6
"""The most a character can take in a JSON body (a `\\u00XX` escape)."""


def invocation_body_limit(settings: Settings) -> int:
    """The largest `/invocations` body the limits allow: message, system prompt, inline files (base64)."""
    text = (settings.max_message_chars + settings.max_system_prompt_chars) * _JSON_BYTES_PER_CHAR
    files = settings.file_max_per_message * (-(-settings.file_max_bytes // 3) * 4 + 1024)
    return text + files + 64 * 1024


def create_app(settings: Settings | None = None, *, model_factory: ModelFactory | None = None) -> FastAPI:
    """Build the app for `settings` (read from the environment when omitted).

    `model_factory` replaces the provider models; benchmarks and tests pass a scripted model here.
    SSE responses must not be compressed, so no GZip middleware is added.
    """
    settings = settings or get_settings()
    app = create_service_app(
        settings,
        service="inference-api",
        title="Chat platform inference API",
        version=__version__,
        lifespan=lifespan_for(settings, model_factory=model_factory),
        expose_headers=["X-Session-ID"],
        agentcore_runtime=True,
        body_limits=[("/invocations", invocation_body_limit(settings))],
    )
    app.include_router(ping_router)
    app.include_router(chat_router)
    return app
