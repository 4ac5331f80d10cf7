"""The tools this platform can run, and how the tool catalogue describes them when it first lists them.

Who may use a tool is not decided here: that is the AppRole rule of `chat_core.roles` over the tool
catalogue (`chat_core.tools`), which app-api keeps in sync with this registry. Importing this module is
cheap (no strands): app-api reads the registry to sync its catalogue; only `resolve` loads the tools.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from chat_core.errors import InvalidInputError
from chat_core.tools import ToolCategory, ToolDefinition, ToolProtocol

__all__ = ["BUILTIN_TOOLS", "RegisteredTool", "ToolRegistry"]

_FIELD: Final = "enabled_tools"


@dataclass(frozen=True, slots=True)
class RegisteredTool:
    """A tool the platform runs, with the catalogue entry a sync creates for it."""

    tool_id: str
    display_name: str
    description: str
    category: ToolCategory
    public: bool
    """New catalogue entries are public (usable by everyone) when the tool is safe for anyone."""
    enabled_by_default: bool

    def catalogue_entry(self, *, by: str | None = None) -> ToolDefinition:
        """The catalogue entry a sync adds for this tool (administrators may change it later)."""
        return ToolDefinition(
            tool_id=self.tool_id,
            display_name=self.display_name,
            description=self.description,
            category=self.category,
            protocol=ToolProtocol.LOCAL,
            is_public=self.public,
            enabled_by_default=self.enabled_by_default,
            created_by=by,
            updated_by=by,
        )


BUILTIN_TOOLS: Final = (
    RegisteredTool(
        tool_id="calculator",
        display_name="Calculator",
        description="Evaluates arithmetic exactly: + - * / // % **, parentheses and common math functions.",
        category=ToolCategory.UTILITY,
        public=True,
        enabled_by_default=True,
    ),
    RegisteredTool(
        tool_id="current_time",
        display_name="Current time",
        description="The current date and time in any IANA time zone.",
        category=ToolCategory.UTILITY,
        public=True,
        enabled_by_default=True,
    ),
)
"""Both built-in tools are pure (no I/O, bounded work), so they are public when first catalogued."""


class ToolRegistry:
    """The tools this service runs, by id. Tool objects are stateless strands tools, shared by turns."""

    def __init__(self, tools: Sequence[RegisteredTool] = BUILTIN_TOOLS) -> None:
        self._tools = {tool.tool_id: tool for tool in tools}

    @property
    def ids(self) -> frozenset[str]:
        """Every tool id this service can run."""
        return frozenset(self._tools)

    def registered(self) -> list[RegisteredTool]:
        """Every tool, by id."""
        return [self._tools[tool_id] for tool_id in sorted(self._tools)]

    def check_known(self, requested: Sequence[str] | None) -> None:
        """Refuse names that are no tool of this service (a client error, before any permission check).

        Raises:
            InvalidInputError: a requested name this service does not run (422).
        """
        unknown = sorted(set(requested or ()) - set(self._tools))
        if unknown:
            raise InvalidInputError(
                f"Unknown tool {unknown[0]!r}.", field=_FIELD, detail={"available": sorted(self._tools)}
            )

    def resolve(self, tool_ids: Sequence[str]) -> list[Any]:
        """The strands tools for a turn, in the order given (ids already checked and permitted).

        Raises:
            InvalidInputError: an id this service does not run.
        """
        self.check_known(tool_ids)
        if not tool_ids:
            return []
        from chat_agent.tools.builtin import TOOLS  # strands loads here, on the first turn with tools

        return [TOOLS[tool_id] for tool_id in dict.fromkeys(tool_ids)]
