"""The app-api application factory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chat_http.startup import startup_imports

with startup_imports():  # see chat_http.startup: a fresh process pays for every import
    from fastapi import FastAPI

    from app_api import __version__
    from app_api.admin_costs.router import router as admin_costs_router
    from app_api.assistants.router import router as assistants_router
    from app_api.auth.router import router as auth_router
    from app_api.blobs.router import router as blobs_router
    from app_api.chat.router import router as chat_router
    from app_api.config import Settings, get_settings
    from app_api.costs.router import router as costs_router
    from app_api.devpage import install_devpage
    from app_api.documents.router import router as documents_router
    from app_api.files.router import router as files_router
    from app_api.health.router import router as health_router
    from app_api.lifespan import lifespan_for
    from app_api.managed_models.router import admin_router as admin_models_router
    from app_api.managed_models.router import router as models_router
    from app_api.model_discovery.router import router as discovery_router
    from app_api.oauth_providers.router import router as oauth_providers_router
    from app_api.quotas.router import admin_router as admin_quota_router
    from app_api.quotas.router import router as quota_router
    from app_api.roles.router import router as roles_router
    from app_api.sessions.router import router as sessions_router
    from app_api.tools.router import admin_router as admin_tools_router
    from app_api.tools.router import router as tools_router
    from app_api.users.router import admin_router as admin_users_router
    from app_api.users.router import router as users_router
    from chat_http.app import create_service_app
    from chat_http.dependencies import WriteRateLimit
    from chat_http.errors import error_doc, error_responses

if TYPE_CHECKING:
    from chat_agent.models.base import ModelFactory

__all__ = ["create_app"]

_PUBLIC = (health_router, auth_router, blobs_router)
"""Routers whose routes need no bearer token (their writes are not counted per user)."""


def create_app(settings: Settings | None = None, *, model_factory: ModelFactory | None = None) -> FastAPI:
    """Build the app for `settings` (read from the environment when omitted).

    `model_factory` replaces the provider models of assistants' test chats; tests pass a scripted model.
    """
    settings = settings or get_settings()
    app = create_service_app(
        settings,
        service="app-api",
        title="Chat platform app API",
        version=__version__,
        lifespan=lifespan_for(settings, model_factory=model_factory),
        responses={400: error_doc("The request body cannot be read")},
        body_limits=[("/blobs/", max(settings.document_max_bytes, settings.file_max_bytes))],
    )
    for router in (
        health_router,
        auth_router,
        sessions_router,
        models_router,
        admin_models_router,
        roles_router,
        discovery_router,
        assistants_router,
        documents_router,
        files_router,
        blobs_router,
        chat_router,
        costs_router,
        quota_router,
        users_router,
        admin_users_router,
        tools_router,
        admin_tools_router,
        oauth_providers_router,
        admin_quota_router,
        admin_costs_router,
    ):
        if router in _PUBLIC:
            app.include_router(router)
        else:
            app.include_router(router, dependencies=[WriteRateLimit], responses=error_responses(429))
    install_devpage(app, settings)
    return app
