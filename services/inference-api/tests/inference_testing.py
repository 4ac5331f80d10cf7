"""Test kit of inference-api: a scripted strands model, seeding through the storage ports, an SSE client.

The scripted model replays Bedrock-shaped strands stream events (what every strands provider yields),
so the service's whole path runs as in production; only the provider's network call is replaced.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import httpx
import jsonschema
import uvicorn
from fastapi import FastAPI
from strands.models import Model

from chat_agent.models.base import ModelRequest
from chat_agent.tools.registry import BUILTIN_TOOLS
from chat_core.managed_models import ManagedModel, ModelProvider
from chat_http.secrets import BLOB_SIGNING_KEY_FILE
from chat_storage import Storage, open_storage
from chat_storage.secrets import load_or_create_secret
from inference_api.config import Settings

Item = dict[str, Any] | BaseException | float
"""A stream event to yield, an exception to raise, or seconds to pause."""
Cycle = list[Item]

# --- scripted model -------------------------------------------------------------------------------


def usage_event(input_tokens: int = 10, output_tokens: int = 5, **extra: int) -> dict[str, Any]:
    usage = {
        "inputTokens": input_tokens,
        "outputTokens": output_tokens,
        "totalTokens": input_tokens + output_tokens,
    }
    return {"metadata": {"usage": usage | extra, "metrics": {"latencyMs": 3}}}


def text_cycle(
    text: str, *, words_per_delta: int = 1, pause: float = 0.0, usage: tuple[int, int] = (10, 5)
) -> Cycle:
    words = text.split(" ")
    chunks = [" ".join(words[i : i + words_per_delta]) for i in range(0, len(words), words_per_delta)]
    items: Cycle = [{"messageStart": {"role": "assistant"}}, {"contentBlockStart": {"start": {}}}]
    for index, chunk in enumerate(chunks):
        items.append(
            {"contentBlockDelta": {"delta": {"text": chunk + (" " if index < len(chunks) - 1 else "")}}}
        )
        if pause:
            items.append(pause)
    items += [{"contentBlockStop": {}}, {"messageStop": {"stopReason": "end_turn"}}, usage_event(*usage)]
    return items


def tool_cycle(
    name: str, tool_input: dict[str, Any], *, tool_use_id: str = "tool-1", reasoning: str | None = None
) -> Cycle:
    items: Cycle = [{"messageStart": {"role": "assistant"}}]
    if reasoning is not None:
        items += [
            {"contentBlockStart": {"start": {}}},
            {"contentBlockDelta": {"delta": {"reasoningContent": {"text": reasoning}}}},
            {"contentBlockDelta": {"delta": {"reasoningContent": {"signature": "sig-1"}}}},
            {"contentBlockStop": {}},
        ]
    encoded = json.dumps(tool_input)
    items += [
        {"contentBlockStart": {"start": {"toolUse": {"toolUseId": tool_use_id, "name": name}}}},
        {"contentBlockDelta": {"delta": {"toolUse": {"input": encoded[: len(encoded) // 2]}}}},
        {"contentBlockDelta": {"delta": {"toolUse": {"input": encoded[len(encoded) // 2 :]}}}},
        {"contentBlockStop": {}},
        {"messageStop": {"stopReason": "tool_use"}},
        usage_event(20, 8),
    ]
    return items


class ScriptedModel(Model):
    """Replays one cycle of items per model call; records what it was called with."""

    def __init__(self, cycles: Sequence[Cycle]) -> None:
        self.config: dict[str, Any] = {"model_id": "scripted"}
        self._cycles = [list(cycle) for cycle in cycles]
        self.calls: list[dict[str, Any]] = []

    def update_config(self, **model_config: Any) -> None:
        self.config.update(model_config)

    def get_config(self) -> dict[str, Any]:
        return self.config

    async def structured_output(
        self, output_model: Any, prompt: Any, system_prompt: str | None = None, **kwargs: Any
    ) -> Any:
        raise NotImplementedError
        yield {}

    async def stream(
        self, messages: Any, tool_specs: Any = None, system_prompt: str | None = None, **kwargs: Any
    ) -> Any:
        self.calls.append(
            {"messages": copy.deepcopy(messages), "system_prompt": system_prompt, "tool_specs": tool_specs}
        )
        cycle = self._cycles.pop(0) if self._cycles else text_cycle("(the script has no more cycles)")
        for item in cycle:
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, float):
                await asyncio.sleep(item)
                continue
            yield item


@dataclass
class ScriptedModels:
    """A `ModelFactory` giving every turn a `ScriptedModel` running `script()`'s cycles."""

    script: Callable[[], list[Cycle]] = field(default=lambda: [text_cycle("Hello from the scripted model.")])
    models: list[ScriptedModel] = field(default_factory=list)
    requests: list[ModelRequest] = field(default_factory=list)

    def __call__(self, request: ModelRequest) -> Model:
        model = ScriptedModel(self.script())
        self.models.append(model)
        self.requests.append(request)
        return model


# --- storage --------------------------------------------------------------------------------------


@asynccontextmanager
async def storage_for(settings: Settings) -> AsyncIterator[Storage]:
    """A second handle on the service's storage, as another process would have."""
    secret = (
        load_or_create_secret(settings.data_dir, BLOB_SIGNING_KEY_FILE)
        if settings.storage == "sqlite"
        else ""
    )
    async with open_storage(settings.storage_config(secret)) as storage:
        yield storage


async def seed_tools(storage: Storage, **changes: Any) -> None:
    """Catalogue the built-in tools as a sync does (public, active), with `changes` applied to each."""
    for tool in BUILTIN_TOOLS:
        await storage.tools.put(tool.catalogue_entry().model_copy(update=changes))


def managed_model(
    model_id: str = "offline-extractive",
    *,
    provider: ModelProvider = ModelProvider.OFFLINE,
    roles: list[str] | None = None,
    enabled: bool = True,
    input_price: float = 0.0,
    output_price: float = 0.0,
    max_output_tokens: int = 4096,
) -> ManagedModel:
    return ManagedModel(
        model_id=model_id,
        model_name=model_id.replace("-", " ").title(),
        provider=provider,
        provider_name=provider.value,
        input_modalities=["text", "image", "document"],
        output_modalities=["text"],
        max_input_tokens=200_000,
        max_output_tokens=max_output_tokens,
        allowed_app_roles=["*"] if roles is None else roles,
        enabled=enabled,
        input_price_per_million_tokens=input_price,
        output_price_per_million_tokens=output_price,
    )


# --- SSE client -----------------------------------------------------------------------------------


@dataclass
class TurnResult:
    status: int
    headers: httpx.Headers
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    error: dict[str, Any] | None = None

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def of(self, name: str) -> list[dict[str, Any]]:
        return [data for event, data in self.events if event == name]

    def text(self) -> str:
        return "".join(
            data["text"]
            for name, data in self.events
            if name == "content_block_delta" and data["type"] == "text"
        )


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    name, data = "message", list[str]()
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


async def post_turn(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> TurnResult:
    async with client.stream("POST", "/invocations", json=body, headers=headers) as response:
        if response.status_code != 200:
            await response.aread()
            return TurnResult(response.status_code, response.headers, error=response.json()["error"])
        result = TurnResult(response.status_code, response.headers)
        async for event in sse_events(response):
            result.events.append(event)
        return result


# --- the event contract ---------------------------------------------------------------------------


def event_schema() -> dict[str, Any]:
    text = resources.files("inference_api.chat").joinpath("events.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


_VALIDATOR: list[jsonschema.protocols.Validator] = []


def validate_schema(name: str, data: dict[str, Any]) -> None:
    """One event matches the JSON schema shipped with the service."""
    if not _VALIDATOR:
        schema = event_schema()
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        _VALIDATOR.append(cls(schema, format_checker=cls.FORMAT_CHECKER))
    _VALIDATOR[0].validate({"event": name, "data": data})


def validate_events(events: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Every event matches the JSON schema, and the sequence follows the protocol's grammar."""
    for name, data in events:
        validate_schema(name, data)
    check_grammar([name for name, _ in events], [data for _, data in events])


def check_grammar(names: list[str], payloads: list[dict[str, Any]]) -> None:
    """quota_warning? citation* (message_start (block|reasoning)* message_stop metadata tool_use* tool_result*)* end.

    end = metadata done | stream_error done | quota_exceeded done (a refused turn's one message, streamed);
    inside a message, block indices count up from 0.
    """
    assert names, "no events"
    assert names[-1] == "done", names
    assert names.count("done") == 1, names
    position = 1 if names[0] == "quota_warning" else 0
    while names[position] == "citation":
        position += 1
    in_message, open_block, next_index = False, None, 0
    for index in range(position, len(names) - 1):
        name, data = names[index], payloads[index]
        assert name != "citation", f"citation after the model started: {names}"
        if name == "message_start":
            assert not in_message, names
            in_message, next_index = True, 0
        elif name == "content_block_start":
            assert in_message, names
            assert open_block is None, names
            assert data["contentBlockIndex"] == next_index, names
            open_block, next_index = data["contentBlockIndex"], next_index + 1
        elif name == "content_block_delta":
            assert open_block == data["contentBlockIndex"], names
        elif name == "content_block_stop":
            assert open_block == data["contentBlockIndex"], names
            open_block = None
        elif name == "reasoning":
            assert in_message, names
            assert open_block is None, names
        elif name == "message_stop":
            assert in_message, names
            assert open_block is None, names
            in_message = False
        elif name in ("metadata", "tool_use", "tool_result", "stream_error", "quota_exceeded"):
            assert not in_message, names
        else:
            raise AssertionError(f"unexpected event {name!r}: {names}")
    assert names[-2] in ("metadata", "stream_error", "quota_exceeded"), names
    if names[-2] == "metadata":
        assert "cost" in payloads[-2], "the last metadata carries the turn's cost"


# --- servers --------------------------------------------------------------------------------------


@contextmanager
def serve_app(app: FastAPI) -> Iterator[str]:
    """Run `app` under uvicorn in a thread on a free loopback port; yield its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Service:
    """A running inference-api on the scripted model, and a storage handle of its own."""

    url: str
    settings: Settings
    scripted: ScriptedModels
    storage: Storage

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=30)


SCRIPTED_MODEL_ID = "scripted-model"
