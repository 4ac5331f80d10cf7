"""Settings of inference-api: the shared `CHAT_*` settings plus its own, read once at start-up."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator

from chat_http.settings import EdgeSettings, Environment

__all__ = ["Environment", "Settings", "get_settings"]


class Settings(EdgeSettings):
    """Every knob of inference-api. Defaults are the embedded development setup."""

    # Requests (the model of a turn, its temperature and message limit are shared settings)
    max_system_prompt_chars: int = Field(default=20_000, ge=1)
    history_messages: int = Field(default=200, ge=2, le=1000)
    """Most recent stored messages a turn sends to the model as history."""

    # Tools: granted by AppRoles and the tool catalogue (app-api's /admin/roles and /admin/tools).
    tool_roles: str | None = None
    """No longer read: set, it stops the service from starting (see `_tool_roles_removed`)."""

    # Shutdown (the SSE knobs are shared settings)
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    """How long shutdown waits for running turns to finish and be stored."""

    @field_validator("tool_roles")
    @classmethod
    def _tool_roles_removed(cls, value: str | None) -> None:
        """Refuse `CHAT_TOOL_ROLES`: ignoring it would silently change who may use which tool.

        It granted tools by JWT role; AppRoles and the tool catalogue do now.
        """
        if value is not None:
            raise ValueError(
                "CHAT_TOOL_ROLES is no longer read: tools are granted by AppRoles (grantedTools, "
                "/admin/roles or /admin/tools/{id}/roles) and the tool catalogue's isPublic. "
                "Move its grants there, then unset it."
            )
        return value


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
