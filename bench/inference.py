"""inference-api: a streamed turn beside its floor, the same strands stream served with nothing else.

A replay model emits 500 text deltas per turn, each in its own event-loop step as from a network stream
but with no delay, so the numbers are the service's own cost: auth, validation, session and model
lookups, history, the SSE encoding and HTTP, and storing the turn (one atomic write) on the embedded
default (SQLite). As in production, every turn is counted against the per-user turn rate and against a
spend quota (a default tier that blocks at its limit: the estimate is reserved before the model call
and settled in the turn's write), at a rate and a limit the load never reaches.

- in-process: `Agent(model=replay).stream_async(...)` consumed in one process, agent built per turn.
- floor: the same agent stream behind a bare FastAPI route on the same uvicorn, no auth, no storage:
  the first delta is written as soon as it exists, the rest in one HTTP write at the end.
- service: the same model behind `POST /invocations` (uvicorn in a child process).
- Both servers are read by the same httpx SSE client until the last event; time to first event is
  measured at the client. Sequential turns alternate between floor and service, so both see the same
  load; throughput is 50 clients at once, each running turns back to back, floor then service, twice.

Run: `uv run python bench/inference.py` (prints a Markdown table with ratios and targets).
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
UNREACHED_RATE = "1000000/minute"
UNREACHED_MONTHLY_USD = 100_000.0
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
    from chat_core.quotas import AssignmentType, QuotaAssignment, QuotaTier
    from chat_storage import open_storage
    from inference_api.config import Settings
    from inference_api.main import create_app

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=Path(data_dir),
        dev_jwt_secret=SecretStr(SECRET),
        log_level="WARNING",
        sse_flush_ms=flush_ms,
        rate_limit_turns=UNREACHED_RATE,  # counted as in production, never reached by the load
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
            await storage.quotas.put_tier(
                QuotaTier(tier_id="bench", tier_name="Bench", monthly_cost_limit=UNREACHED_MONTHLY_USD)
            )
            await storage.quotas.put_assignment(
                QuotaAssignment(
                    assignment_id="everyone", tier_id="bench", assignment_type=AssignmentType.DEFAULT_TIER
                )
            )

    asyncio.run(seed())
    app = create_app(settings, model_factory=lambda request: replay_model())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_floor(port: int) -> None:
    """The floor: the same agent stream over HTTP, first delta at once, the rest in one write."""
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse
    from strands import Agent, ModelRetryStrategy

    app = FastAPI()

    async def body() -> Any:
        agent = Agent(
            model=replay_model(),
            callback_handler=None,
            system_prompt="You are a helpful assistant.",
            retry_strategy=ModelRetryStrategy(max_attempts=1, initial_delay=0),
        )
        frames: list[bytes] = []
        async for event in agent.stream_async("Tell me something long."):
            text = event.get("data")
            if isinstance(text, str):
                frame = f"event: content_block_delta\ndata: {json.dumps({'text': text})}\n\n".encode()
                if not frames:
                    yield frame
                frames.append(frame)
        yield b"".join(frames[1:]) + b"event: done\ndata: {}\n\n"

    @app.post("/invocations")
    async def invocations() -> StreamingResponse:
        return StreamingResponse(body(), media_type="text/event-stream")

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "Healthy"}

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


async def throughput(client: httpx.AsyncClient, token: str) -> float:
    """Turns per second with `CLIENTS` clients running turns back to back."""
    remaining = CONCURRENT_TURNS

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await one_turn(client, token)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    return CONCURRENT_TURNS / (time.perf_counter() - started)


async def side_by_side(floor_url: str, service_url: str, token: str) -> dict[str, Any]:
    """Sequential turns alternating floor / service, then throughput floor, service, floor, service."""
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with (
        httpx.AsyncClient(base_url=floor_url, timeout=120, limits=limits) as floor,
        httpx.AsyncClient(base_url=service_url, timeout=120, limits=limits) as service,
    ):
        for _ in range(WARMUP_TURNS):
            await one_turn(floor, token)
            await one_turn(service, token)
        floor_turns, service_turns = [], []
        for _ in range(SEQUENTIAL_TURNS):
            floor_turns.append(await one_turn(floor, token))
            service_turns.append(await one_turn(service, token))
        rates: dict[str, list[float]] = {"floor": [], "service": []}
        for _ in range(2):
            rates["floor"].append(await throughput(floor, token))
            rates["service"].append(await throughput(service, token))
    return {"floor": floor_turns, "service": service_turns, "rates": rates}


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


def start(arguments: list[str], port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, __file__, *arguments], env=env)
    wait_until_up(f"http://127.0.0.1:{port}", process)
    return process


def ratio_row(name: str, floor: float, ours: float, target: str, unit: str = "ms") -> str:
    shown = (lambda v: f"{v * 1000:.1f} ms") if unit == "ms" else (lambda v: f"{v:.1f}")
    return f"| {name} | {shown(floor)} | {shown(ours)} | {ours / floor:.2f}x | {target} |"


def main(flush_ms: int) -> None:
    from chat_http.auth import mint_dev_token

    load = os.getloadavg()
    baseline = asyncio.run(in_process(WARMUP_TURNS + SEQUENTIAL_TURNS))[WARMUP_TURNS:]
    with tempfile.TemporaryDirectory() as data_dir:
        floor_port, service_port = free_port(), free_port()
        processes = [
            start(["--floor", str(floor_port)], floor_port),
            start(["--serve", data_dir, str(service_port), "--flush-ms", str(flush_ms)], service_port),
        ]
        try:
            token = mint_dev_token(SECRET, user_id="bench", email="bench@example.com")
            results = asyncio.run(
                side_by_side(f"http://127.0.0.1:{floor_port}", f"http://127.0.0.1:{service_port}", token)
            )
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
    floor_first = statistics.median(first for first, _ in results["floor"])
    floor_turn = statistics.median(whole for _, whole in results["floor"])
    first = statistics.median(first for first, _ in results["service"])
    turn = statistics.median(whole for _, whole in results["service"])
    floor_rate = statistics.median(results["rates"]["floor"])
    rate = statistics.median(results["rates"]["service"])
    print(
        f"inference-api beside its floor: {DELTAS} text deltas per turn, SQLite storage, "
        f"CHAT_SSE_FLUSH_MS={flush_ms}; {SEQUENTIAL_TURNS} sequential turns each (alternating, after "
        f"{WARMUP_TURNS} warm-up), medians; throughput {CONCURRENT_TURNS} turns with {CLIENTS} clients, "
        f"median of 2 runs each; {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end\n"
    )
    print("| measure | floor | service | ratio | target |\n|---|---:|---:|---:|---|")
    print(ratio_row("turn at the client, median", floor_turn, turn, "<= 1.25x"))
    print(ratio_row("time to first event at the client, median", floor_first, first, "<= 1.5x"))
    print(ratio_row(f"turns/s, {CLIENTS} concurrent clients", floor_rate, rate, ">= 0.8x", unit="n"))
    print(
        f"\nstrands stream consumed in-process (agent built per turn), median: {statistics.median(baseline) * 1000:.1f} ms"
    )
    print(
        "\n"
        + json.dumps(
            {
                "floorMs": floor_turn * 1000,
                "serviceMs": turn * 1000,
                "floorFirstEventMs": floor_first * 1000,
                "firstEventMs": first * 1000,
                "floorTurnsPerSecond": floor_rate,
                "turnsPerSecond": rate,
                "rates": results["rates"],
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--serve", nargs=2, metavar=("DATA_DIR", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--floor", metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument(
        "--flush-ms", type=int, default=50, help="the service's CHAT_SSE_FLUSH_MS (0 = one write per event)"
    )
    arguments = parser.parse_args()
    if arguments.serve:
        serve(arguments.serve[0], int(arguments.serve[1]), arguments.flush_ms)
    elif arguments.floor:
        serve_floor(int(arguments.floor))
    else:
        main(arguments.flush_ms)
