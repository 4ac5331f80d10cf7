"""STREAMING.md documents every event of the schema with examples that match it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from inference_testing import event_schema, validate_events, validate_schema

DOC = Path(__file__).resolve().parents[2] / "STREAMING.md"
FRAME = re.compile(r"^event: (\w+)\ndata: (.*)$", re.MULTILINE)


def examples() -> list[tuple[str, dict[str, Any]]]:
    return [(name, json.loads(data)) for name, data in FRAME.findall(DOC.read_text())]


def test_every_event_of_the_schema_has_an_example() -> None:
    documented = {name for name, _ in examples()}
    assert documented == set(event_schema()["properties"]["event"]["enum"])


def test_every_example_matches_the_schema() -> None:
    for name, data in examples():
        validate_schema(name, data)


def test_the_schema_rejects_what_the_protocol_does_not_allow() -> None:
    for name, data in [
        ("content_block_delta", {"contentBlockIndex": 0, "type": "text"}),
        ("tool_result", {"tool_result": {"toolUseId": "t", "status": "maybe", "content": []}}),
        (
            "stream_error",
            {
                "type": "stream_error",
                "code": "oops",
                "message": "m",
                "recoverable": True,
                "metadata": {"session_id": "s"},
            },
        ),
        ("done", {"extra": 1}),
        ("event", {"messageStart": {}}),
    ]:
        with pytest.raises(jsonschema.ValidationError):
            validate_schema(name, data)


def test_the_complete_turn_follows_the_grammar() -> None:
    complete = DOC.read_text().split("## A complete turn with a tool", 1)[1]
    validate_events([(name, json.loads(data)) for name, data in FRAME.findall(complete)])
