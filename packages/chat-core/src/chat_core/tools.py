"""The tool catalogue: the tools the platform can run, as administrators describe and grant them.

Who may use a tool is decided by AppRoles (`chat_core.roles`), never stored on the tool, so there is
one source of truth for grants. A catalogue entry only says how the tool is shown and whether it is
public (usable by everyone) or enabled by default in a user's chat settings.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any, Self

from pydantic import Field, model_validator

from chat_core._base import CamelModel
from chat_core.clock import utc_now

__all__ = [
    "TOOL_ID_PATTERN",
    "ToolCategory",
    "ToolCreate",
    "ToolDefinition",
    "ToolPreferences",
    "ToolProtocol",
    "ToolStatus",
    "ToolUpdate",
    "offered_tools",
]

TOOL_ID_PATTERN = r"^[a-z][a-z0-9_]{1,63}$"
_MAX_CONFIG_KEYS = 50


class ToolCategory(StrEnum):
    """How the catalogue groups tools (the original's categories)."""

    SEARCH = "search"
    DATA = "data"
    VISUALIZATION = "visualization"
    DOCUMENT = "document"
    CODE = "code"
    BROWSER = "browser"
    UTILITY = "utility"
    RESEARCH = "research"
    FINANCE = "finance"
    GATEWAY = "gateway"
    CUSTOM = "custom"


class ToolProtocol(StrEnum):
    """How a tool is invoked; this platform runs `local` tools."""

    LOCAL = "local"
    AWS_SDK = "aws_sdk"
    MCP = "mcp"
    MCP_EXTERNAL = "mcp_external"
    A2A = "a2a"


class ToolStatus(StrEnum):
    """Only `active` tools are offered to users."""

    ACTIVE = "active"
    DEPRECATED = "deprecated"
    DISABLED = "disabled"
    COMING_SOON = "coming_soon"


class _ToolFields(CamelModel):
    display_name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=1000)
    category: ToolCategory = ToolCategory.UTILITY
    icon: str | None = Field(default=None, max_length=100)
    protocol: ToolProtocol = ToolProtocol.LOCAL
    status: ToolStatus = ToolStatus.ACTIVE
    requires_oauth_provider: str | None = Field(default=None, max_length=100)
    is_public: bool = False
    """Usable by every signed-in user, whatever their roles."""
    enabled_by_default: bool = False
    """On in a user's chat settings until they turn it off."""
    mcp_config: dict[str, Any] | None = Field(default=None, max_length=_MAX_CONFIG_KEYS)
    a2a_config: dict[str, Any] | None = Field(default=None, max_length=_MAX_CONFIG_KEYS)


class ToolCreate(_ToolFields):
    """What an administrator sends to add a catalogue entry."""

    tool_id: str = Field(pattern=TOOL_ID_PATTERN)


class ToolUpdate(CamelModel):
    """A partial change; only the fields sent are applied."""

    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=1000)
    category: ToolCategory | None = None
    icon: str | None = Field(default=None, max_length=100)
    protocol: ToolProtocol | None = None
    status: ToolStatus | None = None
    requires_oauth_provider: str | None = Field(default=None, max_length=100)
    is_public: bool | None = None
    enabled_by_default: bool | None = None
    mcp_config: dict[str, Any] | None = Field(default=None, max_length=_MAX_CONFIG_KEYS)
    a2a_config: dict[str, Any] | None = Field(default=None, max_length=_MAX_CONFIG_KEYS)

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        nullable = {"icon", "requires_oauth_provider", "mcp_config", "a2a_config"}
        for name in self.model_fields_set - nullable:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class ToolDefinition(ToolCreate):
    """A catalogue entry."""

    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    created_by: str | None = None
    updated_by: str | None = None

    def updated(self, changes: ToolUpdate, *, by: str) -> ToolDefinition:
        """A copy with `changes` applied, stamped with who and when (validated again)."""
        merged = (
            self.model_dump()
            | changes.model_dump(exclude_unset=True)
            | {"updated_at": utc_now(), "updated_by": by}
        )
        return ToolDefinition.model_validate(merged)


class ToolPreferences(CamelModel):
    """One user's on/off choices per tool id (tools not named follow `enabled_by_default`)."""

    enabled: dict[str, bool] = Field(default_factory=dict, max_length=200)


def offered_tools(
    catalogue: Iterable[ToolDefinition], runnable: Collection[str]
) -> dict[str, ToolDefinition]:
    """The catalogue entries of tools the service can run, by id (whatever their status).

    An entry whose tool the service does not run (removed from the code, or never part of it) is never
    offered, so a tool id a caller is shown is always one a turn can execute.
    """
    return {tool.tool_id: tool for tool in catalogue if tool.tool_id in runnable}
