"""Footprint and cold start of each service's runtime environment, as its image would hold it.

Each environment is made by docker/install-service.sh (the Dockerfile's install steps, bytecode
precompiled as in the image) in a temporary directory. Reported per service:

- installed size of the virtual environment (MB = 10^6 bytes, every file counted once), number of
  distributions, the internal ones, and the install time (building the internal wheels included);
- cold start: `import <service>.main` and `create_app()` in a fresh interpreter beside its floor, the import of the
  third-party libraries the service cannot start without, in the same environment: `fastapi, strands,
  aioboto3` for inference-api, `fastapi, aioboto3` for app-api. Both run alternately, RUNS times after
  one warm-up each (so the disk is not what is measured); medians of wall-clock and CPU time, and the
  ratio to the floor against the target. CPU time is the figure to judge on a busy machine: wall-clock
  mostly measures the wait for a core;
- start-up: the same import, then `create_app()` and the lifespan's start (SQLite in a temporary data
  directory, the defaults otherwise), so that work moved from import time to start-up still shows;
- first answer: the service's console script started as the image starts it, until its first real
  request is answered (inference-api: a whole chat turn on the offline model, read until `done`;
  app-api: `GET /sessions`), wall-clock from the process start and the server's CPU time (`/proc`),
  so that work moved from start-up to the first request shows too.

The load average (as `uptime` prints it) is printed before and after the runs.

    uv run python bench/footprint.py [--runs 9] [--environment app-api=/tmp/venv-a ...]

`--environment` measures an existing environment instead of installing one (one made from another
commit by docker/install-service.sh, to compare before and after).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

import httpx
from pydantic import SecretStr

from chat_core.managed_models import ManagedModel, ModelProvider
from chat_http.auth import mint_dev_token
from chat_storage import LocalStorageConfig, open_storage

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"app-api": "app_api", "inference-api": "inference_api"}
FLOORS = {"app-api": "fastapi, aioboto3", "inference-api": "fastapi, strands, aioboto3"}
TARGET = 1.15
"""Import of `<service>.main` and `create_app()` at most this multiple of its floor's (CPU time)."""
INTERNAL = {"chat-core", "chat-storage", "chat-rag", "chat-agent", "chat-http", "app-api", "inference-api"}
TIMED = (
    "import time; t, c = time.perf_counter(), time.process_time(); {statement}; "
    "print('timing', time.perf_counter() - t, time.process_time() - c)"
)
START_UP = """
import asyncio, time
t, c = time.perf_counter(), time.process_time()
from {package}.main import create_app
app = create_app()
async def start():
    async with app.router.lifespan_context(app):
        print("timing", time.perf_counter() - t, time.process_time() - c)
asyncio.run(start())
"""


@dataclass(frozen=True)
class Timing:
    """Wall-clock and CPU seconds of each run."""

    wall: list[float]
    cpu: list[float]

    @property
    def wall_ms(self) -> float:
        return statistics.median(self.wall) * 1000

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.cpu) * 1000


def environment(service: str, venv: Path) -> float:
    """Install `service` with the image's steps into `venv`; return the seconds it took."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAT_", "VIRTUAL_ENV"))}
    env["UV_COMPILE_BYTECODE"] = "1"
    started = time.perf_counter()
    subprocess.run(
        ["bash", str(ROOT / "docker" / "install-service.sh"), service, str(venv)], env=env, check=True
    )
    return time.perf_counter() - started


def size_mb(venv: Path) -> float:
    seen: set[int] = set()
    total = 0
    for path in venv.rglob("*"):
        stat = path.lstat()
        if path.is_file() and not path.is_symlink() and stat.st_ino not in seen:
            seen.add(stat.st_ino)
            total += stat.st_size
    return total / 1e6


def distributions(venv: Path) -> list[str]:
    names = []
    for info in venv.glob("lib/python3*/site-packages/*.dist-info"):
        names.append(Parser().parsestr((info / "METADATA").read_text())["Name"].lower().replace("_", "-"))
    return sorted(names)


def time_alternately(venv: Path, scripts: list[str], runs: int, data_dir: Path) -> list[Timing]:
    """Run each script in a fresh interpreter of `venv`, one after the other, `runs` rounds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAT_", "OTEL_"))}
    env["CHAT_DATA_DIR"] = str(data_dir)
    commands = [[str(venv / "bin" / "python"), "-c", script] for script in scripts]
    for command in commands:  # warm-up: the OS file cache
        subprocess.run(command, env=env, check=True, capture_output=True)
    timings = [Timing([], []) for _ in scripts]
    for _ in range(runs):
        for command, timing in zip(commands, timings, strict=True):
            done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
            (line,) = [line for line in done.stdout.splitlines() if line.startswith("timing ")]
            wall, cpu = line.split()[1:]
            timing.wall.append(float(wall))
            timing.cpu.append(float(cpu))
    return timings


SECRET = "footprint-" + "x" * 40
FIRST_REQUESTS = {
    "app-api": ("/health", "GET", "/sessions", None),
    "inference-api": ("/ping", "POST", "/invocations", {"session_id": "footprint-1", "message": "Hello!"}),
}
"""Per service: the route polled until the server answers, then its first real request."""


async def seed_offline_model(data_dir: Path) -> None:
    """The development catalogue's offline model, so a chat turn needs no provider."""
    async with open_storage(
        LocalStorageConfig(data_dir=data_dir, blob_signing_secret=SecretStr("x"))
    ) as storage:
        await storage.managed_models.create(
            ManagedModel(
                model_id="offline-extractive",
                model_name="Offline",
                provider=ModelProvider.OFFLINE,
                provider_name="footprint",
                input_modalities=["text"],
                output_modalities=["text"],
                max_input_tokens=100_000,
                max_output_tokens=4096,
                allowed_app_roles=["*"],
                input_price_per_million_tokens=0.0,
                output_price_per_million_tokens=0.0,
            )
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def first_answer(service: str, venv: Path, data_dir: Path) -> tuple[float, float]:
    """Wall-clock seconds from starting the server to its first answer, and the server's CPU seconds."""
    probe, method, path, body = FIRST_REQUESTS[service]
    token = mint_dev_token(SECRET, user_id="footprint-user", email="footprint@example.com", roles=["staff"])
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAT_", "OTEL_"))}
    env |= {"CHAT_DATA_DIR": str(data_dir), "CHAT_DEV_JWT_SECRET": SECRET, "CHAT_LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    server = subprocess.Popen(
        [str(venv / "bin" / service), "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=data_dir
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            while True:
                try:
                    if client.get(probe).status_code == 200:
                        break
                except httpx.TransportError:
                    if server.poll() is not None or time.perf_counter() - started > 120:
                        raise
                    time.sleep(0.01)
            headers = {"Authorization": f"Bearer {token}"}
            with client.stream(method, path, json=body, headers=headers) as response:
                assert response.status_code == 200, (service, response.status_code)
                text = "".join(response.iter_text())
            assert body is None or "event: done" in text, text[-500:]
            return time.perf_counter() - started, server_cpu_seconds(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)


def load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="interleaved runs per measurement (default 9)")
    parser.add_argument(
        "--environment",
        action="append",
        default=[],
        metavar="SERVICE=VENV",
        help="measure this existing environment of SERVICE instead of installing one",
    )
    args = parser.parse_args()
    given = dict(item.split("=", 1) for item in args.environment)
    sizes, starts = [], []
    load_before = load()
    with tempfile.TemporaryDirectory(prefix="footprint-") as scratch:
        for service, package in SERVICES.items():
            venv = Path(given.get(service) or Path(scratch) / service)
            install = float("nan") if service in given else environment(service, venv)
            names = distributions(venv)
            internal = ", ".join(n for n in names if n in INTERNAL)
            sizes.append(f"| {service} | {size_mb(venv):.0f} | {len(names)} | {internal} | {install:.1f} |")
            data_dir = Path(scratch) / f"{service}-data"
            floor, ours, start_up = time_alternately(
                venv,
                [
                    TIMED.format(statement=f"import {FLOORS[service]}"),
                    TIMED.format(statement=f"from {package}.main import create_app; create_app()"),
                    START_UP.format(package=package),
                ],
                args.runs,
                data_dir,
            )
            answered = Timing([], [])
            asyncio.run(seed_offline_model(data_dir))
            for _ in range(args.runs):
                wall, cpu = first_answer(service, venv, data_dir)
                answered.wall.append(wall)
                answered.cpu.append(cpu)
            ratio = ours.cpu_ms / floor.cpu_ms
            starts.append(
                f"| {service} | {ours.wall_ms:.0f} | {ours.cpu_ms:.0f} | `import {FLOORS[service]}` "
                f"| {floor.wall_ms:.0f} | {floor.cpu_ms:.0f} | **{ratio:.2f}x** (wall {ours.wall_ms / floor.wall_ms:.2f}x) "
                f"| <= {TARGET}x, {'met' if ratio <= TARGET else 'not met'} "
                f"| {start_up.wall_ms:.0f} | {start_up.cpu_ms:.0f} "
                f"| {answered.wall_ms:.0f} | {answered.cpu_ms:.0f} |"
            )
    print("| service | installed MB | distributions | internal distributions | install s |")
    print("|---|---:|---:|---|---:|")
    print("\n".join(sizes))
    print()
    print(
        "| service | import `<service>.main` + `create_app()`: wall ms | CPU ms | floor | floor wall ms | floor CPU ms "
        "| ours / floor (CPU) | target | import + `create_app()` + lifespan start: wall ms | CPU ms "
        "| process start to first answer: wall ms | server CPU ms |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---|---:|---:|---:|---:|")
    print("\n".join(starts))
    print(
        f"\nMedians of {args.runs} runs, each in a fresh interpreter, alternating with the floor. "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; environments from "
        f"docker/install-service.sh. Load average (1, 5, 15 min): {load_before} before, {load()} after."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
