"""Every string and list a client sends either service is bounded in the API's own schema.

Walks the request bodies and the query and header parameters of app-api's committed OpenAPI document
and of inference-api's `POST /invocations` body: a string needs a `maxLength`, an `enum` or an anchored
pattern without unbounded repetition; a list a `maxItems`; an object with free keys a `maxProperties`.
Path parameters are left out: they are ids, checked by `chat_core.ids.validate_id`, inside a request
head of at most `CHAT_MAX_HEADER_BYTES`. The bounds themselves are tabulated in docs/reliability.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from app_api.__main__ import openapi_document
from inference_api.chat.schemas import InvocationRequest

ROOT = Path(__file__).resolve().parents[2]
_UNBOUNDED_REPEAT = re.compile(r"(?<!\\)[*+]|\{\d+,\}")
_CHARACTER_CLASS = re.compile(r"\[(?:\\.|[^\]])*\]")
_FORMATS_WITH_A_LENGTH = frozenset({"date", "date-time", "binary", "uuid"})


def _bounded_pattern(pattern: str) -> bool:
    outside_classes = _CHARACTER_CLASS.sub("", pattern)
    return pattern.startswith("^") and pattern.endswith("$") and not _UNBOUNDED_REPEAT.search(outside_classes)


def unbounded(schema: Mapping[str, Any], where: str, definitions: Mapping[str, Any]) -> Iterator[str]:
    """Where `schema` lets a client send an unbounded string, list or map."""
    seen: set[str] = set()

    def walk(node: Mapping[str, Any], at: str) -> Iterator[str]:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                yield from walk(definitions[name], f"{at}<{name}>")
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for branch in node.get(key, []):
                yield from walk(branch, at)
        kind = node.get("type")
        if kind == "string" and not (
            "maxLength" in node
            or "enum" in node
            or "const" in node
            or node.get("format") in _FORMATS_WITH_A_LENGTH
            or _bounded_pattern(node.get("pattern", ""))
        ):
            yield f"{at}: a string without maxLength"
        if kind == "array":
            if "maxItems" not in node:
                yield f"{at}: a list without maxItems"
            yield from walk(node.get("items", {}), f"{at}[]")
        for name, child in node.get("properties", {}).items():
            yield from walk(child, f"{at}.{name}")
        extra = node.get("additionalProperties")
        if extra not in (None, False):
            if "maxProperties" not in node:
                yield f"{at}: a map without maxProperties"
            if isinstance(extra, Mapping):
                yield from walk(extra, f"{at}{{}}")

    yield from walk(schema, where)


def test_every_string_and_list_app_api_takes_is_bounded() -> None:
    document = json.loads(openapi_document())
    definitions = document.get("components", {}).get("schemas", {})
    problems = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "path":
                    where = f"{method.upper()} {path} {parameter['in']} {parameter['name']}"
                    problems += unbounded(parameter.get("schema", {}), where, definitions)
            for content in operation.get("requestBody", {}).get("content", {}).values():
                problems += unbounded(content.get("schema", {}), f"{method.upper()} {path} body", definitions)
    assert problems == []


def test_every_string_and_list_of_a_chat_turn_is_bounded() -> None:
    schema = InvocationRequest.model_json_schema()
    assert list(unbounded(schema, "POST /invocations body", schema.get("$defs", {}))) == []


def test_the_walk_finds_what_is_unbounded() -> None:
    loose = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 5}},
            "extra": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 9}},
            "id": {"type": "string", "pattern": "^[a-z]+$"},
            "code": {"type": "string", "pattern": "^[a-z+*]{2,5}$"},
        },
    }
    assert sorted(unbounded(loose, "x", {})) == [
        "x.extra: a map without maxProperties",
        "x.id: a string without maxLength",
        "x.name: a string without maxLength",
        "x.tags: a list without maxItems",
    ]
