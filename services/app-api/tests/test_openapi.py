"""The committed OpenAPI document matches the app, and a property-based run over the live schema finds
no server error and no response that breaks the schema.

Regenerate the document after a contract change with:
    uv run app-api openapi > services/app-api/openapi.json
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from app_api.__main__ import openapi_document

COMMITTED = Path(__file__).resolve().parents[1] / "openapi.json"
MAX_EXAMPLES = 8
"""Examples per operation: bounded so the run fits in the normal test budget."""
ID_EXAMPLES = 4
"""Examples per operation on real ids (each one makes its resources first)."""


class TestCommittedDocument:
    def test_the_app_schema_matches_the_committed_file(self) -> None:
        assert json.loads(openapi_document()) == json.loads(COMMITTED.read_text()), (
            "The API contract changed: run `uv run app-api openapi > services/app-api/openapi.json` "
            "and commit the file so the frontend sees the change."
        )

    def test_every_operation_documents_the_error_body(self) -> None:
        document = json.loads(COMMITTED.read_text())
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                errors = {status for status in operation["responses"] if status.startswith(("4", "5"))}
                assert {"422", "500", "503"} <= errors, (method, path)
                for status in errors:
                    schema = operation["responses"][status]["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)

    def test_the_live_app_serves_the_same_document(self, sqlite_live: Any) -> None:
        import httpx

        served = httpx.get(f"{sqlite_live.base_url}/openapi.json").json()
        assert served == json.loads(COMMITTED.read_text())


LENIENT_CHECKS = [positive_data_acceptance, negative_data_rejection]
"""Left out on purpose. Opaque cursors, identifiers and emails have validity rules a JSON schema does not
state, so schema-valid input may still be a 422; and pydantic's lax mode accepts `0` for `false`. Every
other check runs: no 5xx, documented statuses, content types and headers, response bodies that match
their schema, `Allow` on 405s."""

# The committed document, which the tests above prove is the one the live app serves. Model discovery
# is left out: it calls Bedrock or an OpenAI-compatible endpoint (never reached from tests), and its
# 503 for a provider that is not configured is its documented answer; test_model_discovery.py runs it
# against fake providers.
schema = schemathesis.openapi.from_dict(json.loads(COMMITTED.read_text())).exclude(
    path_regex=r"^/admin/(bedrock|openai|gemini)/models$"
)


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_no_server_errors_and_responses_match_the_schema(case: Any, sqlite_live: Any, auth: Any) -> None:
    case.call_and_validate(
        base_url=sqlite_live.base_url,
        headers=auth("fuzzer", roles=["admin"]),
        excluded_checks=LENIENT_CHECKS,
    )


# --- Operations on real ids: valid data is accepted, invalid data refused ----------------------------
#
# Random ids only ever reach a 404, so on the operations that name a resource the path parameters come
# from resources made for each example (a map hook): schema-valid data must then be accepted (2xx) and
# schema-invalid data refused (4xx), besides every check above. Signed blob URLs are not ids: they are
# tested in test_blobs.py.

ID_OPERATIONS = r"^/(sessions|assistants|files|admin/managed-models|admin/roles|admin/users)/\{"
id_schema = schemathesis.openapi.from_dict(json.loads(COMMITTED.read_text())).include(
    path_regex=ID_OPERATIONS
)
UNSTATED_RULES: dict[str, list[Any]] = {
    "/assistants/{assistant_id}/documents/upload-url": [positive_data_acceptance],
    "/admin/roles/{role_id}": [positive_data_acceptance],
}
"""Operations whose valid input follows a rule the schema cannot state, so schema-valid input may still
be a 422 naming the field: a document's type is accepted by its content type or by its file name's
extension (the frontend sends `application/octet-stream` for unknown types); a role inherits only from
roles that exist."""
FUZZER: dict[str, Any] = {}
"""The live app's client as the fuzzing administrator, set by `_fuzzer` (the hook runs inside the test)."""


def _fresh_session(client: httpx.Client) -> dict[str, str]:
    session_id = f"s-{uuid.uuid4().hex[:12]}"
    assert client.put(f"/sessions/{session_id}/metadata", json={"title": "Fuzzed"}).status_code == 200
    return {"session_id": session_id}


def _fresh_assistant(client: httpx.Client, **fields: Any) -> str:
    response = client.post("/assistants", json={"name": "Fuzzed", **fields})
    assert response.status_code == 201, response.text
    assistant_id: str = response.json()["assistantId"]
    return assistant_id


def _fresh_document(client: httpx.Client, assistant_id: str, data: bytes, content_type: str) -> str:
    grant = client.post(
        f"/assistants/{assistant_id}/documents/upload-url",
        json={
            "filename": "notes.txt" if content_type == "text/plain" else "broken.pdf",
            "contentType": content_type,
            "sizeBytes": len(data),
        },
    ).json()
    assert httpx.put(
        grant["uploadUrl"], content=data, headers={"Content-Type": content_type}
    ).status_code in (200, 204)
    document_id: str = grant["documentId"]
    return document_id


def _settled(client: httpx.Client, assistant_id: str, document_id: str) -> None:
    deadline = time.monotonic() + 60
    while client.get(f"/assistants/{assistant_id}/documents/{document_id}").json()["status"] not in (
        "complete",
        "failed",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _fresh_upload(client: httpx.Client, *, ready: bool) -> dict[str, str]:
    grant = client.post(
        "/files/presign",
        json={"sessionId": "s-fuzz", "filename": "a.txt", "mimeType": "text/plain", "sizeBytes": 5},
    ).json()
    assert httpx.put(
        grant["presignedUrl"], content=b"hello", headers={"Content-Type": "text/plain"}
    ).status_code in (200, 204)
    if ready:
        assert client.post(f"/files/{grant['uploadId']}/complete").status_code == 200
    return {"upload_id": grant["uploadId"]}


def _fresh_ids(method: str, path: str) -> dict[str, str]:
    """Ids of resources made for this example, so that the operation can succeed."""
    client: httpx.Client = FUZZER["client"]
    if path.startswith("/sessions/"):
        return _fresh_session(client)
    if path.startswith("/admin/managed-models/"):
        body = {
            "modelId": f"fuzzed-{uuid.uuid4().hex[:8]}",
            "modelName": "Fuzzed",
            "provider": "offline",
            "providerName": "Offline",
            "inputModalities": ["text"],
            "outputModalities": ["text"],
            "maxInputTokens": 1000,
            "maxOutputTokens": 100,
            "inputPricePerMillionTokens": 0,
            "outputPricePerMillionTokens": 0,
        }
        return {"model_uuid": client.post("/admin/managed-models", json=body).json()["id"]}
    if path.startswith("/admin/roles/"):
        role_id = f"fuzzed_{uuid.uuid4().hex[:8]}"
        body = {
            "roleId": role_id,
            "displayName": "Fuzzed",
            "description": "",
            "jwtRoleMappings": [],
            "inheritsFrom": [],
            "grantedTools": [],
            "grantedModels": [],
            "priority": 1,
            "enabled": True,
        }
        assert client.post("/admin/roles/", json=body).status_code in (200, 201)
        return {"role_id": role_id}
    if path.startswith("/admin/users/"):
        return {"user_id": FUZZER["user_id"]}
    if path.startswith("/files/"):
        return _fresh_upload(client, ready=method == "DELETE")
    if path.endswith("/test-chat") or (method == "GET" and "{document_id}" in path):
        return _complete_document(client)  # read-only uses share one ingested document
    assistant_id = _fresh_assistant(client)
    if "{document_id}" not in path:
        return {"assistant_id": assistant_id}
    if path.endswith("/retry"):  # only a failed document can be retried
        document_id = _fresh_document(client, assistant_id, b"not a pdf", "application/pdf")
        _settled(client, assistant_id, document_id)
    else:
        document_id = _fresh_document(client, assistant_id, b"Charging takes ninety minutes.", "text/plain")
    return {"assistant_id": assistant_id, "document_id": document_id}


def _complete_document(client: httpx.Client) -> dict[str, str]:
    """One ingested document for the operations that only read it (made on first use)."""
    if "document" not in FUZZER:
        assistant_id = _fresh_assistant(client)
        document_id = _fresh_document(client, assistant_id, b"Charging takes ninety minutes.", "text/plain")
        _settled(client, assistant_id, document_id)
        FUZZER["document"] = {"assistant_id": assistant_id, "document_id": document_id}
    ids: dict[str, str] = FUZZER["document"]
    return ids


@pytest.fixture
def _fuzzer(sqlite_live: Any, auth: Any) -> Iterator[None]:
    headers = auth("fuzzer", roles=["admin"])
    with httpx.Client(base_url=sqlite_live.base_url, headers=headers, timeout=60) as client:
        offline = {
            "modelId": "offline-extractive",
            "modelName": "Offline",
            "provider": "offline",
            "providerName": "Offline",
            "inputModalities": ["text"],
            "outputModalities": ["text"],
            "maxInputTokens": 1000,
            "maxOutputTokens": 100,
            "inputPricePerMillionTokens": 0,
            "outputPricePerMillionTokens": 0,
            "allowedAppRoles": ["*"],
        }
        assert client.post("/admin/managed-models", json=offline).status_code in (201, 409)
        FUZZER.update(client=client, user_id="fuzzer")
        yield
        FUZZER.clear()


@id_schema.parametrize()
@hypothesis.settings(
    max_examples=ID_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
@pytest.mark.usefixtures("_fuzzer")
def test_operations_on_real_ids_accept_valid_and_refuse_invalid_data(
    case: Any, sqlite_live: Any, auth: Any
) -> None:
    """Whether the request is valid is decided by the parts as generated, before the ids are put in:
    a valid request must be accepted, an invalid one refused (schemathesis would judge the request
    after the substitution by the generation's overall mode, which the substitution made meaningless)."""
    operation = case.operation
    components = case.meta.components if case.meta else {}
    invalid = {location for location, info in components.items() if info.mode.is_negative}
    if ParameterLocation.PATH not in invalid:  # an invalid id stays, to be refused
        case.path_parameters = {
            **(case.path_parameters or {}),
            **_fresh_ids(operation.method.upper(), operation.path),
        }
    cursors = {"next_token", "cursor"} & set(case.query or {})
    if cursors:  # cursors are opaque: only the server makes them, so a made-up one is rightly refused
        case.query = {name: value for name, value in case.query.items() if name not in cursors}
    not_applicable = [positive_data_acceptance] if invalid else [negative_data_rejection]
    case.call_and_validate(
        base_url=sqlite_live.base_url,
        # an invalid bearer token stays, to be refused
        headers=None if ParameterLocation.HEADER in invalid else auth("fuzzer", roles=["admin"]),
        excluded_checks=[*not_applicable, *UNSTATED_RULES.get(operation.path, [])],
    )
