"""`POST /assistants/{id}/test-chat` over real HTTP on both backends: the assistant editor's test panel.

A real turn on the turn machinery of `/invocations` (knowledge search, citations, the offline model),
owner-only, needing a complete document, with a `debug` event first, and nothing stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from strands.models import Model

Api = Callable[..., Any]
CheckError = Callable[..., dict[str, Any]]

MANUAL = b"# Battery care\n\nThe battery charges fully in 90 minutes with the supplied 30 W charger.\n"
OFFLINE_MODEL = {
    "modelId": "offline-extractive",
    "modelName": "Offline extractive",
    "provider": "offline",
    "providerName": "Offline",
    "inputModalities": ["text"],
    "outputModalities": ["text"],
    "maxInputTokens": 200000,
    "maxOutputTokens": 4096,
    "inputPricePerMillionTokens": 0,
    "outputPricePerMillionTokens": 0,
    "allowedAppRoles": ["*"],
}


def read_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    events, name = [], ""
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            events.append((name, json.loads(line.removeprefix("data:").strip())))
    return events


def send_test_message(
    client: httpx.Client, assistant_id: str, message: str
) -> tuple[httpx.Response, list[Any]]:
    with client.stream(
        "POST",
        f"/assistants/{assistant_id}/test-chat",
        json={"message": message},
        headers={"Accept": "text/event-stream"},
    ) as response:
        if response.status_code != 200:
            response.read()
            return response, []
        return response, read_events(response)


def ensure_offline_model(api: Api) -> None:
    answer = api("root", roles=["admin"]).post("/admin/managed-models", json=OFFLINE_MODEL)
    assert answer.status_code in (201, 409), answer.text


def assistant_with_document(client: httpx.Client, *, instructions: str = "Answer from the manual.") -> str:
    assistant_id: str = client.post("/assistants/draft", json={"name": "Helper"}).json()["assistantId"]
    client.put(f"/assistants/{assistant_id}", json={"instructions": instructions})
    grant = client.post(
        f"/assistants/{assistant_id}/documents/upload-url",
        json={"filename": "manual.md", "contentType": "text/markdown", "sizeBytes": len(MANUAL)},
    ).json()
    assert httpx.put(
        grant["uploadUrl"], content=MANUAL, headers={"Content-Type": "text/markdown"}
    ).status_code in (
        200,
        204,
    )
    deadline = time.monotonic() + 60
    path = f"/assistants/{assistant_id}/documents/{grant['documentId']}"
    while client.get(path).json()["status"] != "complete":
        assert time.monotonic() < deadline, client.get(path).json()
        time.sleep(0.1)
    return assistant_id


class TestTestChat:
    def test_the_owner_gets_the_debug_event_then_an_answer_from_the_knowledge(self, api: Api) -> None:
        ensure_offline_model(api)
        alice = api()
        assistant_id = assistant_with_document(alice)
        response, events = send_test_message(alice, assistant_id, "How long does the battery take to charge?")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        names = [name for name, _ in events]
        assert names[0] == "debug"
        debug = events[0][1]
        assert (debug["type"], debug["chunk_count"]) == ("rag_debug", len(debug["chunks"]))
        assert debug["chunk_count"] >= 1
        assert debug["chunks"][0]["source"] == "manual.md"
        assert "citation" in names
        assert names[-1] == "done"
        assert {"message_start", "content_block_start", "content_block_delta", "message_stop"} <= set(names)
        answer = "".join(data["text"] for name, data in events if name == "content_block_delta")
        assert "90 minutes" in answer
        # the panel appends only deltas of type text
        assert all(data.get("type") == "text" for name, data in events if name == "content_block_delta")

    def test_nothing_is_stored(self, api: Api) -> None:
        ensure_offline_model(api)
        alice = api()
        assistant_id = assistant_with_document(alice)
        send_test_message(alice, assistant_id, "How long does the battery take to charge?")
        assert alice.get("/sessions").json()["sessions"] == []
        assert alice.get("/costs/summary").json()["totalRequests"] == 0

    def test_counted_in_the_turn_metrics(self, api: Api) -> None:
        ensure_offline_model(api)
        alice = api()
        assistant_id = assistant_with_document(alice)

        def completed() -> float:
            text = alice.get("/metrics").text
            return sum(
                sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
                if sample.name == "chat_turns_completed_total"
                and sample.labels["model"] == "offline-extractive"
            )

        before = completed()
        send_test_message(alice, assistant_id, "How long does the battery take to charge?")
        assert completed() == before + 1

    def test_without_a_complete_document_it_is_400(self, api: Api, check_error: CheckError) -> None:
        ensure_offline_model(api)
        alice = api()
        assistant_id = alice.post("/assistants/draft", json={"name": "Empty"}).json()["assistantId"]
        response, _ = send_test_message(alice, assistant_id, "Hello")
        check_error(response, 400, "bad_request")

    def test_owner_only(self, api: Api, check_error: CheckError) -> None:
        ensure_offline_model(api)
        alice, bob = api("alice"), api("bob")
        assistant_id = assistant_with_document(alice)
        check_error(send_test_message(bob, assistant_id, "Hello")[0], 404, "not_found")
        alice.put(f"/assistants/{assistant_id}", json={"visibility": "PUBLIC", "status": "COMPLETE"})
        check_error(send_test_message(bob, assistant_id, "Hello")[0], 403, "forbidden")

    def test_bad_messages_are_422(self, api: Api, check_error: CheckError) -> None:
        alice = api()
        assistant_id = alice.post("/assistants/draft", json={"name": "Empty"}).json()["assistantId"]
        for body in ({}, {"message": ""}, {"message": "   "}, {"message": None}, {"message": 5}):
            response = alice.post(f"/assistants/{assistant_id}/test-chat", json=body)
            assert check_error(response, 422, "validation_error")["field"] == "message"


# --- the same turn with a scripted model: what the model is given, and a failure mid-answer -----------


class ScriptedModel(Model):
    """Streams one text answer (optionally failing half-way) and records what it was asked."""

    def __init__(self, fail_after: int | None) -> None:
        self.config: dict[str, Any] = {"model_id": "scripted"}
        self.fail_after = fail_after
        self.calls: list[dict[str, Any]] = []

    def update_config(self, **model_config: Any) -> None:
        self.config.update(model_config)

    def get_config(self) -> dict[str, Any]:
        return self.config

    async def structured_output(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError
        yield {}

    async def stream(
        self, messages: Any, tool_specs: Any = None, system_prompt: str | None = None, **kwargs: Any
    ) -> Any:
        self.calls.append({"messages": messages, "tool_specs": tool_specs, "system_prompt": system_prompt})
        yield {"messageStart": {"role": "assistant"}}
        yield {"contentBlockStart": {"start": {}}}
        for number, word in enumerate(["It ", "takes ", "ninety ", "minutes."]):
            if self.fail_after is not None and number == self.fail_after:
                raise RuntimeError("the provider dropped the connection")
            yield {"contentBlockDelta": {"delta": {"text": word}}}
        yield {"contentBlockStop": {}}
        yield {"messageStop": {"stopReason": "end_turn"}}
        yield {
            "metadata": {
                "usage": {"inputTokens": 9, "outputTokens": 4, "totalTokens": 13},
                "metrics": {"latencyMs": 1},
            }
        }


class ScriptedModels:
    def __init__(self, fail_after: int | None = None) -> None:
        self.fail_after = fail_after
        self.models: list[ScriptedModel] = []
        self.requests: list[Any] = []

    def __call__(self, request: Any) -> Model:
        self.requests.append(request)
        self.models.append(ScriptedModel(self.fail_after))
        return self.models[-1]


@pytest.fixture
def scripted_app(
    tmp_path: Path,
    settings_for: Callable[..., Any],
    start_app: Callable[..., AbstractContextManager[Any]],
    auth: Callable[..., dict[str, str]],
) -> Iterator[Callable[[int | None], tuple[httpx.Client, ScriptedModels]]]:
    clients: list[httpx.Client] = []
    contexts: list[AbstractContextManager[Any]] = []

    def start(fail_after: int | None) -> tuple[httpx.Client, ScriptedModels]:
        models = ScriptedModels(fail_after)
        context = start_app(settings_for(tmp_path / f"app{len(contexts)}"), model_factory=models)
        contexts.append(context)
        url = context.__enter__().base_url
        admin = httpx.Client(base_url=url, headers=auth("root", roles=["admin"]), timeout=30)
        assert admin.post("/admin/managed-models", json=OFFLINE_MODEL).status_code == 201
        admin.close()
        client = httpx.Client(base_url=url, headers=auth("alice"), timeout=60)
        clients.append(client)
        return client, models

    yield start
    for client in clients:
        client.close()
    for context in reversed(contexts):
        context.__exit__(None, None, None)


class TestTheTurn:
    def test_the_model_gets_the_passages_and_the_instructions_and_no_tools(
        self, scripted_app: Callable[[int | None], tuple[httpx.Client, ScriptedModels]]
    ) -> None:
        client, models = scripted_app(None)
        assistant_id = assistant_with_document(client, instructions="Always mention the charger.")
        response, events = send_test_message(
            client, assistant_id, "How long does the battery take to charge?"
        )
        assert response.status_code == 200
        [call] = models.models[0].calls
        assert not call["tool_specs"]
        assert "Always mention the charger." in call["system_prompt"]
        [question] = call["messages"]  # no history: every test chat starts afresh
        assert "30 W charger" in json.dumps(question)  # the passage found in the knowledge base
        assert models.requests[0].caching is False
        assert "".join(data["text"] for name, data in events if name == "content_block_delta") == (
            "It takes ninety minutes."
        )

    def test_a_failure_mid_answer_ends_with_stream_error_and_done(
        self, scripted_app: Callable[[int | None], tuple[httpx.Client, ScriptedModels]]
    ) -> None:
        client, _ = scripted_app(2)
        assistant_id = assistant_with_document(client)
        response, events = send_test_message(client, assistant_id, "How long?")
        assert response.status_code == 200
        names = [name for name, _ in events]
        assert names[-2:] == ["stream_error", "done"]
        assert "content_block_stop" in names  # the open block is closed for the panel
        assert events[-2][1]["type"] == "stream_error"
