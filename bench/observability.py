"""What metrics, and tracing while it is off, cost per request (app-api) and per turn (inference-api).

Two measurements, printed side by side:

1. End to end. One server process per configuration on the embedded default (SQLite), all running at
   once; blocks of sequential requests alternate between them, so a change of load on the machine hits
   every configuration alike. Per configuration: the median client latency, and the server's CPU time
   per request (from `/proc`, summed over all blocks).
   - baseline: `CHAT_METRICS_ENABLED=false` and no `OTEL_*` variable: the edge records nothing.
   - default: metrics on, tracing off (no `OTEL_*` variable): what the 3 % target is about.
   - tracing on, for information: `OTEL_TRACES_EXPORTER=console` into /dev/null (every span built,
     redacted and serialised).
2. The added work itself, in process, where the noise of a busy machine cannot hide it: the
   request-context middleware with and without metrics around an app that only answers, one storage
   call through the timing proxy against the bare call, and a turn's observers plus its `chat.turn`
   span on the no-op tracer. Per request that is the middleware plus the storage calls the request
   made (counted by the default server's own metrics); it is compared with the baseline server's CPU
   time per request from (1). The verdict is on this share; (1) shows the same within its noise.

    uv run python bench/observability.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from chat_core.costs import TokenUsage
from chat_core.ids import SessionId, UserId
from chat_core.managed_models import ManagedModel, ModelProvider
from chat_core.sessions import SessionUpdate
from chat_http.auth import mint_dev_token
from chat_storage import LocalStorageConfig, open_storage

SECRET = "bench-secret-" + "x" * 40
USER = UserId("bench-user")
BENCH = Path(__file__).resolve().parent
TARGET = 0.03
CALLS = 20_000

CONFIGURATIONS: dict[str, dict[str, str]] = {
    "baseline": {"CHAT_METRICS_ENABLED": "false"},
    "default": {},
    "tracing on": {"OTEL_TRACES_EXPORTER": "console"},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def managed(model_id: str) -> ManagedModel:
    return ManagedModel(
        model_id=model_id,
        model_name=model_id,
        provider=ModelProvider.BEDROCK,
        provider_name="Amazon Bedrock",
        input_modalities=["TEXT"],
        output_modalities=["TEXT"],
        max_input_tokens=200_000,
        max_output_tokens=8192,
        allowed_app_roles=["*"],
        input_price_per_million_tokens=1.0,
        output_price_per_million_tokens=5.0,
    )


async def seed_app_api(data_dir: Path) -> None:
    """200 sessions of one user and five managed models."""
    config = LocalStorageConfig(data_dir=data_dir, blob_signing_secret=SecretStr("seed"))
    async with open_storage(config) as storage:
        for index in range(200):
            await storage.sessions.update(
                USER, SessionId(f"s-{index:04d}"), SessionUpdate(title=f"S {index}")
            )
        for index in range(5):
            await storage.managed_models.create(managed(f"provider.model-{index}"))


# --- 1. end to end -----------------------------------------------------------------------------------


def base_env(extra: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "CHAT_"))}
    return (
        env
        | {
            "CHAT_DEV_JWT_SECRET": SECRET,
            "CHAT_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            # Counted as in production; the load never reaches the limits.
            "CHAT_RATE_LIMIT_TURNS": "1000000/minute",
            "CHAT_RATE_LIMIT_WRITES": "1000000/minute",
        }
        | extra
    )


def start(command: list[str], env: dict[str, str], probe: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(probe, timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
        time.sleep(0.2)


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    latencies: list[float] = field(default_factory=list)
    cpu: float = 0.0
    requests: int = 0


Send = Callable[[httpx.AsyncClient], Awaitable[None]]


def storage_calls(url: str) -> float:
    """Storage calls the server has made so far, from its own metrics."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "chat_storage_operation_duration_seconds_count"
    )


async def alternate(
    servers: list[Server], send: Send, *, rounds: int, per_block: int, headers: dict[str, str]
) -> None:
    """Blocks of `per_block` sequential requests, round-robin over the servers, after a warm-up."""
    clients = {
        server.name: httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) for server in servers
    }
    try:
        for server in servers:
            for _ in range(max(5, per_block // 5)):
                await send(clients[server.name])
        for _ in range(rounds):
            for server in servers:
                client = clients[server.name]
                before = cpu_seconds(server.process.pid)
                for _ in range(per_block):
                    started = time.perf_counter()
                    await send(client)
                    server.latencies.append(time.perf_counter() - started)
                server.cpu += cpu_seconds(server.process.pid) - before
                server.requests += per_block
    finally:
        for client in clients.values():
            await client.aclose()


async def one_turn(client: httpx.AsyncClient) -> None:
    body = {"session_id": f"bench-{uuid.uuid4().hex[:12]}", "message": "Tell me something long."}
    done = False
    async with client.stream("POST", "/invocations", json=body) as response:
        assert response.status_code == 200, response.status_code
        async for line in response.aiter_lines():
            done = done or line == "event: done"
    assert done, "the turn did not finish"


@dataclass
class Row:
    label: str
    servers: dict[str, Server]
    storage_per_request: float
    kind: str  # "request" or "turn"


def run_rows(
    servers: list[Server], cases: list[tuple[str, Send, int, str]], rounds: int, headers: dict[str, str]
) -> list[Row]:
    rows = []
    default = next(server for server in servers if server.name == "default")
    for label, send, per_block, kind in cases:
        fresh = [Server(server.name, server.url, server.process) for server in servers]
        calls_before = storage_calls(default.url)
        asyncio.run(alternate(fresh, send, rounds=rounds, per_block=per_block, headers=headers))
        sent = next(server for server in fresh if server.name == "default")
        requests = sent.requests + max(5, per_block // 5)
        rows.append(
            Row(
                label,
                {s.name: s for s in fresh},
                (storage_calls(default.url) - calls_before) / requests,
                kind,
            )
        )
    return rows


def measure_app_api(rounds: int) -> list[Row]:
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(seed_app_api(Path(directory)))
        servers = []
        try:
            for name, extra in CONFIGURATIONS.items():
                port = free_port()
                env = base_env(
                    {"CHAT_DATA_DIR": directory, "CHAT_PUBLIC_URL": f"http://127.0.0.1:{port}"} | extra
                )
                process = start(
                    [sys.executable, "-m", "app_api", "--port", str(port)],
                    env,
                    f"http://127.0.0.1:{port}/health",
                )
                servers.append(Server(name, f"http://127.0.0.1:{port}", process))
            token = mint_dev_token(SECRET, user_id=USER, email="bench@example.com")

            def get(path: str) -> Send:
                async def send(client: httpx.AsyncClient) -> None:
                    response = await client.get(path)
                    assert response.status_code == 200, response.text[:200]

                return send

            cases = [
                ("app-api GET /models", get("/models"), 100, "request"),
                ("app-api GET /sessions (newest 50 of 200)", get("/sessions?limit=50"), 100, "request"),
            ]
            return run_rows(servers, cases, rounds, {"Authorization": f"Bearer {token}"})
        finally:
            stop(servers)


def measure_inference(rounds: int) -> list[Row]:
    servers = []
    with tempfile.TemporaryDirectory() as directory:
        try:
            for name, extra in CONFIGURATIONS.items():
                data_dir = Path(directory) / name.replace(" ", "-")
                data_dir.mkdir()
                port = free_port()
                process = start(
                    [sys.executable, str(BENCH / "inference.py"), "--serve", str(data_dir), str(port)],
                    base_env(extra),
                    f"http://127.0.0.1:{port}/ping",
                )
                servers.append(Server(name, f"http://127.0.0.1:{port}", process))
            token = mint_dev_token(SECRET, user_id="bench", email="bench@example.com")
            cases = [("inference-api POST /invocations (500 deltas, stored)", one_turn, 5, "turn")]
            return run_rows(servers, cases, rounds, {"Authorization": f"Bearer {token}"})
        finally:
            stop(servers)


def stop(servers: list[Server]) -> None:
    for server in servers:
        server.process.terminate()
        server.process.wait(timeout=30)


# --- 2. the added work, in process ----------------------------------------------------------------


def per_call(function: Callable[[], Awaitable[None]] | Callable[[], None], *, calls: int = CALLS) -> float:
    """Median seconds per call over 5 repetitions of `calls` calls."""

    async def repeat() -> float:
        started = time.perf_counter()
        for _ in range(calls):
            outcome = function()
            if outcome is not None:
                await outcome
        return (time.perf_counter() - started) / calls

    return statistics.median(asyncio.run(repeat()) for _ in range(5))


def added_per_request() -> float:
    """The request-context middleware with metrics, minus without, around an app that only answers."""
    from chat_http.metrics import EdgeMetrics
    from chat_http.middleware import RequestContextMiddleware

    route = SimpleNamespace(path="/models")

    async def answer(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope["route"] = route
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        return None

    def call(app: Any) -> Callable[[], Awaitable[None]]:
        return lambda: app({"type": "http", "method": "GET", "path": "/models", "headers": []}, receive, send)

    bare = RequestContextMiddleware(answer, service="bench")
    measured = RequestContextMiddleware(answer, service="bench", metrics=EdgeMetrics())
    return statistics.median(per_call(call(measured)) - per_call(call(bare)) for _ in range(3))


def added_per_storage_call() -> float:
    """One call through the storage proxy (timing, no span), minus the bare call."""
    from chat_http.metrics import EdgeMetrics
    from chat_http.telemetry import Telemetry, _instrumented

    async def bare() -> None:
        return None

    timed = _instrumented(
        bare, Telemetry(metrics=EdgeMetrics()), backend="sqlite", repository="sessions", operation="get"
    )
    return statistics.median(per_call(timed) - per_call(bare) for _ in range(3))


def added_per_turn() -> float:
    """A turn's observers (metrics and the runtime status) and its `chat.turn` span on the no-op tracer."""
    from opentelemetry import trace

    from chat_agent.turns import TurnOutcome
    from chat_http.metrics import EdgeMetrics
    from chat_http.runtime import RuntimeStatus
    from chat_http.telemetry import TurnMetrics

    turn: Any = SimpleNamespace(managed_model=managed("bench-model"))
    outcome = TurnOutcome(
        turn=turn,
        error_code=None,
        usage=TokenUsage(input_tokens=50, output_tokens=500, total_tokens=550),
        cost=0.0025,
        first_token_seconds=0.01,
        duration_seconds=0.03,
    )
    observers = [TurnMetrics(EdgeMetrics()), RuntimeStatus()]
    tracer = trace.get_tracer("bench")

    def one() -> None:
        with tracer.start_as_current_span("chat.turn", attributes={"chat.model_id": "bench-model"}) as span:
            for observer in observers:
                observer.turn_started(turn)
            span.set_attributes({"gen_ai.usage.input_tokens": 50, "gen_ai.usage.output_tokens": 500})
            for observer in observers:
                observer.turn_ended(outcome)

    return per_call(one, calls=CALLS // 4)


# --- report ---------------------------------------------------------------------------------------


def percent(part: float, whole: float) -> str:
    return f"{part / whole * 100:+.1f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=15, help="blocks per configuration")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = measure_app_api(args.rounds) + measure_inference(args.rounds)
    request_us, storage_us, turn_us = added_per_request(), added_per_storage_call(), added_per_turn()
    print(
        f"Metrics and tracing-off overhead; {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end.\n"
    )
    print(f"1. End to end: one server per configuration, blocks alternating, {args.rounds} rounds.\n")
    print(
        "| request | measure | baseline (nothing recorded) | default: metrics on, tracing off | change | tracing on (console exporter) | change |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for row in rows:
        medians = {name: statistics.median(server.latencies) for name, server in row.servers.items()}
        cpus = {name: server.cpu / server.requests for name, server in row.servers.items()}
        for measure, values in (("latency, median", medians), ("server CPU per request", cpus)):
            base = values["baseline"]
            print(
                f"| {row.label} | {measure} | {base * 1000:.2f} ms | {values['default'] * 1000:.2f} ms "
                f"| {percent(values['default'] - base, base)} | {values['tracing on'] * 1000:.2f} ms "
                f"| {percent(values['tracing on'] - base, base)} |"
            )
    print(
        f"\n2. The added work, in process: middleware with metrics {request_us * 1e6:.1f} µs per request; "
        f"storage proxy {storage_us * 1e6:.1f} µs per storage call; turn observers and the no-op turn span "
        f"{turn_us * 1e6:.1f} µs per turn.\n"
    )
    print(
        "| request | baseline server CPU per request | storage calls per request | added per request | share of the request | target |"
    )
    print("|---|---:|---:|---:|---:|---|")
    worst = 0.0
    for row in rows:
        base = row.servers["baseline"].cpu / row.servers["baseline"].requests
        added = request_us + row.storage_per_request * storage_us + (turn_us if row.kind == "turn" else 0.0)
        worst = max(worst, added / base)
        print(
            f"| {row.label} | {base * 1000:.2f} ms | {row.storage_per_request:.1f} | {added * 1e6:.1f} µs "
            f"| {added / base * 100:.2f} % | < {TARGET:.0%} |"
        )
    verdict = "within" if worst < TARGET else "ABOVE"
    print(f"\nLargest share: {worst * 100:.2f} % ({verdict} the {TARGET:.0%} target).")


if __name__ == "__main__":
    main()
