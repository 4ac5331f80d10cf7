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

    # Tools
    tool_roles: dict[str, list[str]] = Field(default_factory=lambda: {"*": ["current_time", "calculator"]})
    """JSON: role -> tool names it may enable; `*` applies to every caller."""

    # Shutdown (the SSE knobs are shared settings)
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    """How long shutdown waits for running turns to finish and be stored."""

    @field_validator("tool_roles")
    @classmethod
    def _known_tools(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        from chat_agent.tools.builtin import BUILTIN_TOOL_NAMES

        unknown = sorted({name for names in value.values() for name in names} - BUILTIN_TOOL_NAMES)
        if unknown:
            raise ValueError(f"CHAT_TOOL_ROLES names unknown tools: {', '.join(unknown)}.")
        return value


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
