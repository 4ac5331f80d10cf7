"""inference-api: what the service adds to a streamed turn, measured against the bare strands stream.

A replay model emits 500 text deltas per turn, each in its own event-loop step as from a network stream
but with no delay, so the numbers are the service's own cost:
auth, validation, session and model lookups, history, the SSE encoding and HTTP, and storing the turn
(messages, cost ledger, session counters) on the embedded default (SQLite).

- in-process: `Agent(model=replay).stream_async(...)` consumed in one process, agent built per turn.
- service: the same model behind `POST /invocations` (uvicorn in a child process), read by an httpx
  SSE client until `done`; time to first event is measured at the client.
- throughput: 50 clients at once, each running turns back to back, for a fixed number of turns.

Run: `uv run python bench/inference.py` (prints a Markdown table).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

DELTAS = 500
SEQUENTIAL_TURNS = 40
WARMUP_TURNS = 5
CLIENTS = 50
CONCURRENT_TURNS = 300
SECRET = "bench-secret-" + "x" * 40


def replay_model() -> Any:
    from strands.models import Model

    class ReplayModel(Model):
        """Replays one turn of `DELTAS` text deltas, as a provider would stream it."""

        def __init__(self) -> None:
            self.config: dict[str, Any] = {"model_id": "replay"}

        def update_config(self, **model_config: Any) -> None:
            self.config.update(model_config)

        def get_config(self) -> dict[str, Any]:
            return self.config

        async def structured_output(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError
            yield {}

        async def stream(
            self, messages: Any, tool_specs: Any = None, system_prompt: Any = None, **kwargs: Any
        ) -> Any:
            yield {"messageStart": {"role": "assistant"}}
            yield {"contentBlockStart": {"start": {}}}
            for index in range(DELTAS):
                yield {"contentBlockDelta": {"delta": {"text": f"tok{index} "}}}
                await asyncio.sleep(0)  # each chunk arrives on its own, as from a network stream
            yield {"contentBlockStop": {}}
            yield {"messageStop": {"stopReason": "end_turn"}}
            usage = {"inputTokens": 50, "outputTokens": DELTAS, "totalTokens": 50 + DELTAS}
            yield {"metadata": {"usage": usage, "metrics": {"latencyMs": 1}}}

    return ReplayModel()


async def in_process(turns: int) -> list[float]:
    from strands import Agent, ModelRetryStrategy

    timings = []
    for _ in range(turns):
        started = time.perf_counter()
        agent = Agent(
            model=replay_model(),
            callback_handler=None,
            system_prompt="You are a helpful assistant.",
            retry_strategy=ModelRetryStrategy(max_attempts=1, initial_delay=0),
        )
        async for _event in agent.stream_async("Tell me something long."):
            pass
        timings.append(time.perf_counter() - started)
    return timings


# --- the service, in a child process ---------------------------------------------------------------


def serve(data_dir: str, port: int, flush_ms: int) -> None:
    import uvicorn
    from pydantic import SecretStr

    from chat_core.managed_models import ManagedModel, ModelProvider
    from chat_storage import open_storage
    from inference_api.config import Settings
    from inference_api.main import create_app

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=Path(data_dir),
        dev_jwt_secret=SecretStr(SECRET),
        log_level="WARNING",
        sse_flush_ms=flush_ms,
    )

    async def seed() -> None:
        async with open_storage(settings.storage_config("bench-blob-secret")) as storage:
            await storage.managed_models.create(
                ManagedModel(
                    model_id="offline-extractive",
                    model_name="Replay",
                    provider=ModelProvider.OFFLINE,
                    provider_name="bench",
                    input_modalities=["text"],
                    output_modalities=["text"],
                    max_input_tokens=100_000,
                    max_output_tokens=4096,
                    allowed_app_roles=["*"],
                    input_price_per_million_tokens=1.0,
                    output_price_per_million_tokens=2.0,
                )
            )

    asyncio.run(seed())
    app = create_app(settings, model_factory=lambda request: replay_model())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def one_turn(client: httpx.AsyncClient, token: str) -> tuple[float, float]:
    """(time to first event, whole turn) in seconds, reading the stream until `done`."""
    body = {"session_id": f"bench-{uuid.uuid4().hex[:12]}", "message": "Tell me something long."}
    started = time.perf_counter()
    first: float | None = None
    done = False
    async with client.stream(
        "POST", "/invocations", json=body, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        assert response.status_code == 200, response.status_code
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                first = first or time.perf_counter()
                done = line == "event: done"
    assert done, "the turn did not finish"
    assert first is not None
    return first - started, time.perf_counter() - started


async def through_service(base_url: str, token: str) -> tuple[list[float], list[float], float]:
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:
        for _ in range(WARMUP_TURNS):
            await one_turn(client, token)
        sequential = [await one_turn(client, token) for _ in range(SEQUENTIAL_TURNS)]
        remaining = CONCURRENT_TURNS

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await one_turn(client, token)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
        throughput = CONCURRENT_TURNS / (time.perf_counter() - started)
    return [first for first, _ in sequential], [whole for _, whole in sequential], throughput


def wait_until_up(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base_url}/ping", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main(flush_ms: int) -> None:
    from chat_http.auth import mint_dev_token

    baseline = asyncio.run(in_process(WARMUP_TURNS + SEQUENTIAL_TURNS))[WARMUP_TURNS:]
    with tempfile.TemporaryDirectory() as data_dir:
        port = free_port()
        env = os.environ | {"PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            [sys.executable, __file__, "--serve", data_dir, str(port), "--flush-ms", str(flush_ms)], env=env
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_until_up(base_url, process)
            token = mint_dev_token(SECRET, user_id="bench", email="bench@example.com")
            first_events, turns, throughput = asyncio.run(through_service(base_url, token))
        finally:
            process.terminate()
            process.wait(timeout=30)
    inside, served = statistics.median(baseline), statistics.median(turns)
    quantiles = statistics.quantiles(turns, n=20)
    rows = [
        ("strands stream consumed in-process (agent built per turn), median", milliseconds(inside)),
        ("same stream through the service (HTTP, SSE, stored turn), median", milliseconds(served)),
        (
            "overhead the service adds per turn, median",
            f"{milliseconds(served - inside)} ({served / inside:.2f}x)",
        ),
        ("service turn, p95", milliseconds(quantiles[18])),
        ("time to first event at the client, median", milliseconds(statistics.median(first_events))),
        (f"turns/s with {CLIENTS} concurrent clients ({CONCURRENT_TURNS} turns)", f"{throughput:.1f}"),
    ]
    print(
        f"inference-api, {DELTAS} text deltas per turn, SQLite storage, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, CHAT_SSE_FLUSH_MS={flush_ms}, "
        f"{SEQUENTIAL_TURNS} sequential turns after {WARMUP_TURNS} warm-up\n"
    )
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print(
        "\n"
        + json.dumps({"inProcessMs": inside * 1000, "serviceMs": served * 1000, "turnsPerSecond": throughput})
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--serve", nargs=2, metavar=("DATA_DIR", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--flush-ms", type=int, default=10, help="the service's CHAT_SSE_FLUSH_MS (0 = one write per event)"
    )
    arguments = parser.parse_args()
    if arguments.serve:
        serve(arguments.serve[0], int(arguments.serve[1]), arguments.flush_ms)
    else:
        main(arguments.flush_ms)
