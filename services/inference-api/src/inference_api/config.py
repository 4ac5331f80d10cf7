"""Settings of inference-api: the shared `CHAT_*` settings plus its own, read once at start-up."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator

from chat_http.settings import EdgeSettings, Environment

__all__ = ["Environment", "Settings", "get_settings"]


class Settings(EdgeSettings):
    """Every knob of inference-api. Defaults are the embedded development setup."""

    # Models
    default_model_id: str = "offline-extractive"
    """The managed model's `modelId` used when a request names none."""
    default_temperature: float = Field(default=0.7, ge=0, le=1)

    # Requests
    max_message_chars: int = Field(default=100_000, ge=1)
    max_system_prompt_chars: int = Field(default=20_000, ge=1)
    history_messages: int = Field(default=200, ge=2, le=1000)
    """Most recent stored messages a turn sends to the model as history."""

    # Tools
    tool_roles: dict[str, list[str]] = Field(default_factory=lambda: {"*": ["current_time", "calculator"]})
    """JSON: role -> tool names it may enable; `*` applies to every caller."""

    # Assistant knowledge: the shared `rag_*` settings, plus how much of it a prompt may carry.
    rag_context_chars: int = Field(default=6000, ge=500, le=100_000)
    """Budget of knowledge-base text added to the prompt sent to the model."""

    # Streaming
    sse_ping_seconds: float = Field(default=15.0, ge=0)
    """Keep-alive comment interval on open streams (0 disables)."""
    sse_flush_ms: int = Field(default=10, ge=0, le=1000)
    """Events arriving within this many milliseconds of the previous write are written together
    (0 writes every event on its own)."""
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
