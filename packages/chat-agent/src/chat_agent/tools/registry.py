"""Which tools a caller may enable: configuration maps roles to tool names (`*` = every caller)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from chat_agent.tools.builtin import calculator, current_time
from chat_core.errors import InvalidInputError, PermissionDeniedError
from chat_core.identity import User

__all__ = ["EVERYONE", "ToolRegistry"]

EVERYONE: Final = "*"
_FIELD: Final = "enabled_tools"


class ToolRegistry:
    """The tools this service offers, filtered per caller by their roles.

    Tool objects are stateless strands tools, safe to hand to many agents at once.
    """

    def __init__(self, role_tools: Mapping[str, Sequence[str]]) -> None:
        self._tools: dict[str, Any] = {"calculator": calculator, "current_time": current_time}
        unknown = {name for names in role_tools.values() for name in names} - set(self._tools)
        assert not unknown, f"unknown tools in the role mapping: {sorted(unknown)}"
        self._role_tools = {role: frozenset(names) for role, names in role_tools.items()}

    def allowed(self, user: User) -> frozenset[str]:
        """Tool names `user` may enable."""
        names: set[str] = set(self._role_tools.get(EVERYONE, ()))
        for role in user.roles:
            names |= self._role_tools.get(role, frozenset())
        return frozenset(names)

    def select(self, user: User, requested: Sequence[str] | None) -> list[Any]:
        """The tools for a turn: `None` or `[]` means none (as in the original API).

        Raises:
            InvalidInputError: a name that is not a tool of this service.
            PermissionDeniedError: a tool the caller's roles do not grant.
        """
        if not requested:
            return []
        unknown = sorted(set(requested) - set(self._tools))
        if unknown:
            raise InvalidInputError(
                f"Unknown tool {unknown[0]!r}.", field=_FIELD, detail={"available": sorted(self._tools)}
            )
        denied = sorted(set(requested) - self.allowed(user))
        if denied:
            raise PermissionDeniedError(f"You may not use the tool {denied[0]!r}.", field=_FIELD)
        return [self._tools[name] for name in dict.fromkeys(requested)]
