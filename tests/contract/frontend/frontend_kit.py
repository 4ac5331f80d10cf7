"""Test kit of the frontend contract suite: the two services over HTTP, tokens, SSE, interface schemas.

The frontend (Angular, `frontend/ai.client` of agentcore-public-stack at commit 153cdf3) is the client
whose TypeScript states the contract. Its code is not copied here: each test module writes, by hand, a
JSON Schema per TypeScript interface it checks, naming the `.ts` file it comes from. Fields the client
reads are required with their types; fields it never reads are left out; unknown extra fields are
allowed, as TypeScript ignores them.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]  # no stubs in the dev group
import jwt

from chat_http.auth import DEV_AUDIENCE, DEV_ISSUER

__all__ = [
    "ADMIN_ROLE",
    "BOOLEAN",
    "DEV_SECRET",
    "EMPLOYEE_NUMBER_CLAIM",
    "INTEGER",
    "ISO_DATE_TIME",
    "NUMBER",
    "STRING",
    "FrontendClient",
    "ServerSentEvent",
    "Stack",
    "UserFactory",
    "array",
    "check",
    "enum",
    "mint_token",
    "never_null",
    "new_user_id",
    "nullable",
    "obj",
    "read_events",
    "unique",
]

DEV_SECRET = "contract-secret-" + "x" * 40
EMPLOYEE_NUMBER_CLAIM = "http://schemas.boisestate.edu/claims/employeenumber"
"""Required by the client's `UserService` (nine digits), or it has no user and hides admin pages."""
ADMIN_ROLE = "Admin"
"""The role name the client's admin guard checks (case-sensitive); the stack's `CHAT_ADMIN_ROLES`."""


@dataclass(frozen=True)
class Stack:
    """Both services of one storage backend, as the client reaches them (`appApiUrl`, `inferenceApiUrl`)."""

    backend: str
    app_url: str
    inference_url: str
    data_dir: Path


def mint_token(
    *,
    user_id: str,
    email: str,
    name: str,
    roles: list[str],
    given_name: str = "",
    family_name: str = "",
    expires_in: int = 3600,
) -> str:
    """A development token with the claims the client decodes itself (email, name, employee number, roles)."""
    now = int(time.time())
    claims = {
        "sub": user_id,
        "email": email,
        "name": name,
        "given_name": given_name,
        "family_name": family_name,
        "roles": roles,
        EMPLOYEE_NUMBER_CLAIM: user_id,
        "iss": DEV_ISSUER,
        "aud": DEV_AUDIENCE,
        "iat": now,
        "exp": now + expires_in,
    }
    return jwt.encode(claims, DEV_SECRET, algorithm="HS256")


@dataclass(frozen=True)
class ServerSentEvent:
    """One dispatched event, as `@microsoft/fetch-event-source` hands it to the client."""

    event: str
    data: Any
    """The `data` field parsed as JSON, as every client handler does (`JSON.parse(msg.data)`)."""


def read_events(lines: Iterator[str]) -> list[ServerSentEvent]:
    """Parse an SSE body by the WHATWG rules: `event:`/`data:` fields, comments, blank-line dispatch."""
    events: list[ServerSentEvent] = []
    name, data = "", list[str]()
    for line in lines:
        if line == "":
            if data:
                events.append(ServerSentEvent(name or "message", json.loads("\n".join(data))))
            name, data = "", list[str]()
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    if data:
        events.append(ServerSentEvent(name or "message", json.loads("\n".join(data))))
    return events


class FrontendClient(httpx.Client):
    """Calls the app API as the client's `HttpClient` does (bearer token, JSON), and streams like its
    `fetchEventSource` calls (explicit headers, `Accept: text/event-stream`)."""

    def __init__(self, stack: Stack, *, user_id: str, email: str, name: str, roles: list[str]) -> None:
        self.token = mint_token(user_id=user_id, email=email, name=name, roles=roles)
        super().__init__(
            base_url=stack.app_url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60
        )
        self.stack = stack
        self.user_id = user_id
        self.email = email
        self.name = name

    def stream(self, url: str, body: Mapping[str, Any]) -> tuple[httpx.Response, list[ServerSentEvent]]:  # type: ignore[override]  # a POST stream with the client's headers, not httpx's generic one
        """POST `body` to an SSE endpoint (absolute URL or app-API path); the response and its events."""
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.token}",
            "Accept": "text/event-stream",
        }
        with super().stream("POST", url, content=json.dumps(body), headers=headers) as response:
            if "text/event-stream" not in response.headers.get("content-type", ""):
                response.read()
                return response, []
            return response, read_events(response.iter_lines())

    def invoke(self, body: Mapping[str, Any]) -> tuple[httpx.Response, list[ServerSentEvent]]:
        """A chat turn: `POST {inferenceApiUrl}/invocations?qualifier=DEFAULT`, as `chat-http.service.ts`."""
        return self.stream(f"{self.stack.inference_url}/invocations?qualifier=DEFAULT", body)


UserFactory = Callable[..., FrontendClient]
"""`frontend_user()` / `frontend_user(admin=True)`: a fresh signed-in user of the client."""


def new_user_id() -> str:
    """A fresh nine-digit employee number (the original's user id; the client requires the format)."""
    return str(random.SystemRandom().randrange(100_000_000, 1_000_000_000))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- schemas written from the TypeScript interfaces -----------------------------------------------

STRING: dict[str, Any] = {"type": "string"}
NUMBER: dict[str, Any] = {"type": "number"}
INTEGER: dict[str, Any] = {"type": "integer"}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
ISO_DATE_TIME: dict[str, Any] = {"type": "string", "format": "date-time"}


def enum(*values: str) -> dict[str, Any]:
    """A TypeScript string-literal union."""
    return {"enum": list(values)}


def nullable(schema: Mapping[str, Any]) -> dict[str, Any]:
    """`T | null`."""
    return {"anyOf": [dict(schema), {"type": "null"}]}


def array(items: Mapping[str, Any]) -> dict[str, Any]:
    """`T[]`."""
    return {"type": "array", "items": dict(items)}


_NEVER_NULL = "x-never-null"


def never_null(schema: Mapping[str, Any]) -> dict[str, Any]:
    """An optional field the client uses whenever it is not `undefined`: absent or `T`, never null."""
    return {**dict(schema), _NEVER_NULL: True}


def obj(required: Mapping[str, Any], optional: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An interface: `required` fields (`name: T`) and `optional` ones (`name?: T`).

    An optional field may be absent or null (JSON has no `undefined`; the original API sent null for
    unset fields, and the client reads them with `?.` or truthiness), unless marked `never_null`.
    """
    properties = dict(required)
    for name, schema in (optional or {}).items():
        if schema.get(_NEVER_NULL):
            properties[name] = {key: value for key, value in schema.items() if key != _NEVER_NULL}
        else:
            properties[name] = nullable(schema)
    return {"type": "object", "required": sorted(required), "properties": properties}


def check(instance: Any, schema: Mapping[str, Any]) -> None:
    """Fail with every mismatch between a response body and the interface's schema."""
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    problems = sorted(validator.iter_errors(instance), key=lambda error: list(error.absolute_path))
    assert not problems, "\n".join(
        f"{'/'.join(str(part) for part in error.absolute_path) or '<root>'}: {error.message}"
        for error in problems
    )
