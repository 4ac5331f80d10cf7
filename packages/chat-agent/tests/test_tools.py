"""The built-in tools: bounded arithmetic without eval, and the current time."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

import pytest

from chat_agent.tools.builtin import TOOLS, current_time, evaluate
from chat_agent.tools.registry import BUILTIN_TOOLS, ToolRegistry
from chat_core.errors import InvalidInputError
from chat_core.tools import ToolProtocol, ToolStatus


class TestEvaluate:
    @pytest.mark.parametrize(
        ("expression", "expected"),
        [
            ("1 + 2 * 3", 7),
            ("(1 + 2) * 3", 9),
            ("2 ** 10", 1024),
            ("2 ^ 10", 1024),
            ("7 // 2", 3),
            ("7 % 4", 3),
            ("-3 + +4", 1),
            ("10 / 4", 2.5),
            ("sqrt(16) + abs(-2)", 6.0),
            ("round(pi, 2)", 3.14),
        ],
    )
    def test_arithmetic(self, expression: str, expected: float) -> None:
        assert evaluate(expression) == pytest.approx(expected)

    @pytest.mark.parametrize(
        "expression",
        [
            "__import__('os').system('id')",
            "().__class__.__bases__",
            "open('/etc/passwd')",
            "x + 1",
            "lambda: 1",
            "[1, 2]",
            "'a' * 3",
            "9 ** 9 ** 9",
            "10.0 ** 400",
            "1 / 0",
            "sqrt(-1)",
            "1 +",
            "1" * 600,
            "True + 1",
        ],
    )
    def test_refuses_anything_else(self, expression: str) -> None:
        with pytest.raises(ValueError):  # noqa: PT011 - the message varies by case; the type is the contract
            evaluate(expression)


class TestCurrentTime:
    def test_returns_an_aware_iso_time_in_the_zone(self) -> None:
        value = datetime.fromisoformat(current_time(timezone="Asia/Tokyo"))
        assert value.utcoffset() is not None
        assert value.utcoffset().total_seconds() == 9 * 3600  # type: ignore[union-attr]

    def test_unknown_zone_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="Unknown time zone"):
            current_time(timezone="Mars/Olympus_Mons")


class TestRegistry:
    registry = ToolRegistry()

    def test_every_registered_tool_resolves_to_the_strands_tool_of_that_name(self) -> None:
        assert self.registry.ids == set(TOOLS)
        resolved = self.registry.resolve(sorted(self.registry.ids))
        assert [tool.tool_name for tool in resolved] == sorted(self.registry.ids)

    def test_nothing_requested_is_no_tools(self) -> None:
        assert self.registry.resolve([]) == []
        self.registry.check_known(None)

    def test_unknown_tools_are_refused(self) -> None:
        with pytest.raises(InvalidInputError) as raised:
            self.registry.resolve(["shell"])
        assert raised.value.field == "enabled_tools"
        assert raised.value.detail == {"available": ["calculator", "current_time"]}

    def test_catalogue_entries_of_the_built_in_tools(self) -> None:
        entries = [tool.catalogue_entry(by="admin-1") for tool in BUILTIN_TOOLS]
        assert [entry.tool_id for entry in entries] == ["calculator", "current_time"]
        for entry in entries:
            assert (entry.protocol, entry.status, entry.is_public) == (
                ToolProtocol.LOCAL,
                ToolStatus.ACTIVE,
                True,
            )
            assert entry.created_by == "admin-1"

    def test_reading_the_registry_does_not_load_strands(self) -> None:
        probe = (
            "import sys; from chat_agent.tools.registry import ToolRegistry; ToolRegistry().registered();"
            " print('strands' in sys.modules)"
        )
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
        assert result.stdout.strip() == "False"
