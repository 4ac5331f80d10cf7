"""Throughput and latency of app-api on the embedded default (SQLite), over HTTP on loopback.

A user with 10,000 sessions (and a small model catalogue) is seeded straight into a fresh data
directory; `app-api` then runs as its own process (one uvicorn worker) and an httpx client in this
process sends each request kind with a fixed number of requests in flight. Access logging is lowered
to WARNING so the log sink is not what is measured. Both processes share the machine's cores, so the
server's own CPU time per request (from `/proc`) is reported too: it does not depend on other load.

`GET /sessions` is also measured against its floor: a bare FastAPI app (same uvicorn) returning the
same JSON through the same pydantic response model, from memory, with no auth and no storage; both
servers' CPU per request is printed with the ratio and the target.

    uv run python bench/app_api.py [--requests 2000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from pydantic import SecretStr

from chat_core.ids import SessionId, UserId
from chat_core.managed_models import ManagedModel, ModelProvider
from chat_core.sessions import SessionUpdate
from chat_http.auth import mint_dev_token
from chat_storage import LocalStorageConfig, open_storage

SESSIONS = 10_000
SECRET = "bench-secret-" + "x" * 40
USER = UserId("bench-user")


async def seed(data_dir: Path) -> None:
    """10,000 sessions with distinct activity times and five managed models."""
    async with open_storage(
        LocalStorageConfig(data_dir=data_dir, blob_signing_secret=SecretStr("seed"))
    ) as storage:
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for index in range(SESSIONS):
            session_id = SessionId(f"s-{index:05d}")
            await storage.sessions.update(USER, session_id, SessionUpdate(title=f"Session {index}"))
            await storage.sessions.record_turn(USER, session_id, at=start + timedelta(minutes=index))
        for index in range(5):
            await storage.managed_models.create(
                ManagedModel(
                    model_id=f"provider.model-{index}",
                    model_name=f"Model {index}",
                    provider=ModelProvider.BEDROCK,
                    provider_name="Amazon Bedrock",
                    input_modalities=["TEXT"],
                    output_modalities=["TEXT"],
                    max_input_tokens=200_000,
                    max_output_tokens=8192,
                    allowed_app_roles=["*"] if index % 2 == 0 else ["staff"],
                    input_price_per_million_tokens=1.0,
                    output_price_per_million_tokens=5.0,
                )
            )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_floor(port: int, page_file: str) -> None:
    """The floor of `GET /sessions`: the same JSON through the same response model, from memory."""
    import uvicorn
    from fastapi import FastAPI

    from app_api.sessions.schemas import SessionPage

    page = SessionPage.model_validate_json(Path(page_file).read_text())
    app = FastAPI()

    @app.get("/sessions", response_model=SessionPage)
    async def read_sessions() -> SessionPage:
        return page

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "healthy"}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start_floor(port: int, page_file: Path) -> subprocess.Popen[bytes]:
    # -P: not this script's folder first on the path, where `app_api` would be this file
    process = subprocess.Popen([sys.executable, "-P", __file__, "--floor", str(port), str(page_file)])
    wait_for_health(port, process)
    return process


def wait_for_health(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


async def sessions_beside_floor(
    base_url: str, server_pid: int, floor_url: str, floor_pid: int, *, requests: int, concurrency: int
) -> tuple[float, float]:
    """CPU per `GET /sessions` request (ms) of app-api and of the floor, measured alternately (ABBA)."""
    token = mint_dev_token(SECRET, user_id=USER, email="bench@example.com", roles=["staff"])
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    cpu: dict[str, list[float]] = {"ours": [], "floor": []}
    async with (
        httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, limits=limits
        ) as ours,
        httpx.AsyncClient(base_url=floor_url, limits=limits) as floor,
    ):
        servers = {"ours": (ours, server_pid), "floor": (floor, floor_pid)}
        for name in ("ours", "floor", "floor", "ours"):
            client, pid = servers[name]
            send = lambda c: c.get("/sessions", params={"limit": 50})  # noqa: E731
            await measure(client, send, requests=200, concurrency=concurrency)  # warm-up
            before = cpu_seconds(pid)
            await measure(client, send, requests=requests, concurrency=concurrency)
            cpu[name].append((cpu_seconds(pid) - before) * 1000 / requests)
    return statistics.mean(cpu["ours"]), statistics.mean(cpu["floor"])


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "CHAT_DATA_DIR": str(data_dir),
        "CHAT_DEV_JWT_SECRET": SECRET,
        "CHAT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "CHAT_LOG_LEVEL": "WARNING",
        # Writes are counted against the per-user limit as in production; the load never reaches it.
        "CHAT_RATE_LIMIT_WRITES": "1000000/minute",
    }
    process = subprocess.Popen([sys.executable, "-m", "app_api", "--port", str(port)], env=env)
    wait_for_health(port, process)
    return process


async def measure(
    client: httpx.AsyncClient, send: Callable[[httpx.AsyncClient], object], *, requests: int, concurrency: int
) -> tuple[float, float, float]:
    """Requests per second, p50 and p99 latency (ms) for `requests` calls, `concurrency` in flight."""
    latencies: list[float] = []
    remaining = iter(range(requests))

    async def worker() -> None:
        for _ in remaining:
            started = time.perf_counter()
            response: httpx.Response = await send(client)  # type: ignore[misc]
            latencies.append(time.perf_counter() - started)
            if response.status_code >= 300:
                raise RuntimeError(f"{response.status_code}: {response.text[:200]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return requests / elapsed, quantiles[49] * 1000, quantiles[98] * 1000


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux `/proc`), independent of other load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(
    base_url: str, server_pid: int, *, requests: int, concurrency: int
) -> list[tuple[str, float, float, float, float]]:
    token = mint_dev_token(SECRET, user_id=USER, email="bench@example.com", roles=["staff"])
    headers = {"Authorization": f"Bearer {token}"}
    session_ids = [f"s-{index:05d}" for index in range(SESSIONS)]
    presign = {"sessionId": "s-00001", "filename": "notes.txt", "mimeType": "text/plain", "sizeBytes": 1024}
    cases: list[tuple[str, Callable[[httpx.AsyncClient], object]]] = [
        ("list sessions (newest 50 of 10,000)", lambda c: c.get("/sessions", params={"limit": 50})),
        ("get session metadata", lambda c: c.get(f"/sessions/{random.choice(session_ids)}/metadata")),
        ("presign an upload", lambda c: c.post("/files/presign", json=presign)),
        ("list models", lambda c: c.get("/models")),
    ]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    results = []
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=30) as client:
        for name, send in cases:
            await measure(client, send, requests=min(200, requests), concurrency=concurrency)  # warm-up
            cpu_before = cpu_seconds(server_pid)
            rate, p50, p99 = await measure(client, send, requests=requests, concurrency=concurrency)
            cpu_ms = (cpu_seconds(server_pid) - cpu_before) * 1000 / requests
            results.append((name, rate, p50, p99, cpu_ms))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=2000, help="requests per operation")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--floor", nargs=2, metavar=("PORT", "PAGE_FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        serve_floor(int(args.floor[0]), args.floor[1])
        return
    load = os.getloadavg()[0]
    random.seed(7)
    with tempfile.TemporaryDirectory() as directory:
        data_dir = Path(directory)
        started = time.perf_counter()
        asyncio.run(seed(data_dir))
        seeded = time.perf_counter() - started
        port, floor_port = free_port(), free_port()
        server = start_server(data_dir, port)
        floor: subprocess.Popen[bytes] | None = None
        try:
            base_url = f"http://127.0.0.1:{port}"
            results = asyncio.run(
                run(base_url, server.pid, requests=args.requests, concurrency=args.concurrency)
            )
            token = mint_dev_token(SECRET, user_id=USER, email="bench@example.com", roles=["staff"])
            page = httpx.get(
                f"{base_url}/sessions", params={"limit": 50}, headers={"Authorization": f"Bearer {token}"}
            )
            page_file = data_dir / "sessions-page.json"
            page_file.write_bytes(page.content)
            floor = start_floor(floor_port, page_file)
            ours_cpu, floor_cpu = asyncio.run(
                sessions_beside_floor(
                    base_url,
                    server.pid,
                    f"http://127.0.0.1:{floor_port}",
                    floor.pid,
                    requests=args.requests,
                    concurrency=args.concurrency,
                )
            )
        finally:
            for process in (server, floor):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=30)
    print(
        f"app-api on the embedded default (SQLite), one uvicorn worker, httpx client on loopback; "
        f"{args.requests} requests per operation, {args.concurrency} in flight; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; seeding {SESSIONS:,} sessions took {seeded:.1f} s.\n"
    )
    print("| operation | requests/s | p50 (ms) | p99 (ms) | server CPU per request (ms) |")
    print("|---|---:|---:|---:|---:|")
    for name, rate, p50, p99, cpu_ms in results:
        print(f"| {name} | {rate:,.0f} | {p50:.1f} | {p99:.1f} | {cpu_ms:.2f} |")
    print(
        f"\n`GET /sessions` (newest 50 of {SESSIONS:,}) beside its floor, server CPU per request, mean of "
        f"two runs each (ABBA); load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end.\n"
    )
    print("| measure | floor | app-api | ratio | target |\n|---|---:|---:|---:|---|")
    print(
        f"| server CPU per request (ms) | {floor_cpu:.2f} | {ours_cpu:.2f} | {ours_cpu / floor_cpu:.2f}x | <= 2x |"
    )


if __name__ == "__main__":
    main()
