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
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]  # no stubs in the dev group
import jwt
import uvicorn

from chat_http.auth import DEV_AUDIENCE, DEV_ISSUER
from chat_storage import AwsStorageConfig, LocalStorageConfig

__all__ = [
    "ADMIN_ROLE",
    "BOOLEAN",
    "DEV_SECRET",
    "EMPLOYEE_NUMBER_CLAIM",
    "INTEGER",
    "ISO_DATE_TIME",
    "MANUAL",
    "NUMBER",
    "STRING",
    "FrontendClient",
    "ServerSentEvent",
    "Stack",
    "UserFactory",
    "array",
    "assistant_with_document",
    "attach_file",
    "check",
    "enum",
    "mint_token",
    "never_null",
    "new_user_id",
    "nullable",
    "obj",
    "read_events",
    "run_turn",
    "streamed_text",
    "turn_body",
    "unique",
    "upload_document",
    "wait_for_document",
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
    storage: LocalStorageConfig | AwsStorageConfig
    """What the services store in, for setting up data the client could only make slowly."""


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


# --- chat turns as the client sends them ----------------------------------------------------------


def turn_body(session_id: str, message: str, **extra: Any) -> dict[str, Any]:
    """`FE/session/services/chat/chat-request.service.ts`: the body for the first enabled model.

    `enabled_tools` is always sent; `file_upload_ids` and `assistant_id` only when set.
    """
    return {
        "message": message,
        "session_id": session_id,
        "model_id": "offline-extractive",
        "enabled_tools": [],
        "provider": "offline",
        **extra,
    }


def run_turn(client: FrontendClient, body: Mapping[str, Any]) -> list[ServerSentEvent]:
    """A turn the client would open (200 and an event stream) and finish (`done` last); its events."""
    response, events = client.invoke(body)
    assert response.status_code == 200, response.text
    assert "text/event-stream" in response.headers["content-type"]
    assert events[-1].event == "done"
    return events


def streamed_text(events: list[ServerSentEvent]) -> str:
    """The text the deltas add up to."""
    return "".join(event.data.get("text", "") for event in events if event.event == "content_block_delta")


# --- uploads as the client makes them -------------------------------------------------------------


def put_to_presigned_url(url: str, data: bytes, content_type: str) -> None:
    """`XMLHttpRequest` `PUT` of the raw file with only `Content-Type` (no bearer), as the client does."""
    response = httpx.put(url, content=data, headers={"Content-Type": content_type}, timeout=30)
    assert response.status_code in (200, 204), response.text


def attach_file(client: FrontendClient, session_id: str, filename: str, data: bytes, mime_type: str) -> str:
    """`FE/services/file-upload/file-upload.service.ts`: presign, PUT, complete; the upload id."""
    presign = client.post(
        "/files/presign",
        json={"sessionId": session_id, "filename": filename, "mimeType": mime_type, "sizeBytes": len(data)},
    )
    assert presign.status_code == 200, presign.text
    put_to_presigned_url(presign.json()["presignedUrl"], data, mime_type)
    complete = client.post(f"/files/{presign.json()['uploadId']}/complete", json={})
    assert complete.status_code == 200, complete.text
    upload_id: str = presign.json()["uploadId"]
    return upload_id


def upload_document(
    client: FrontendClient, assistant_id: str, filename: str, text: str, content_type: str = "text/markdown"
) -> str:
    """`FE/assistants/services/document.service.ts`: upload URL, PUT; the document id."""
    data = text.encode()
    grant = client.post(
        f"/assistants/{assistant_id}/documents/upload-url",
        json={"filename": filename, "contentType": content_type, "sizeBytes": len(data)},
    )
    assert grant.status_code in (200, 201), grant.text
    put_to_presigned_url(grant.json()["uploadUrl"], data, content_type)
    document_id: str = grant.json()["documentId"]
    return document_id


def wait_for_document(client: FrontendClient, assistant_id: str, document_id: str) -> dict[str, Any]:
    """Poll the document as the client does until it is `complete` or `failed`."""
    deadline = time.monotonic() + 120
    while True:
        response = client.get(f"/assistants/{assistant_id}/documents/{document_id}")
        if response.status_code == 200 and response.json()["status"] in ("complete", "failed"):
            body: dict[str, Any] = response.json()
            return body
        assert time.monotonic() < deadline, f"document still {response.json()} after 120 s"
        time.sleep(0.2)


MANUAL = """# Battery care

The battery charges fully in 90 minutes with the supplied 30 W charger.
Store the device at half charge when it is not used for a month or more.
"""


def assistant_with_document(client: FrontendClient, name: str = "Manual helper") -> tuple[str, str]:
    """A draft assistant (as "Create New" makes it) with one ingested document; (assistant, document) ids."""
    draft = client.post("/assistants/draft", json={"name": name})
    assert draft.status_code in (200, 201), draft.text
    assistant_id: str = draft.json()["assistantId"]
    document_id = upload_document(client, assistant_id, "manual.md", MANUAL)
    assert wait_for_document(client, assistant_id, document_id)["status"] == "complete"
    return assistant_id, document_id


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


def free_socket() -> socket.socket:
    """A loopback socket bound to a free port (bound first, so the port is known before serving)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve_app(app: Any, sock: socket.socket) -> Iterator[str]:
    """Run an ASGI app under uvicorn in a thread on a bound socket; yield its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("a contract-test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
