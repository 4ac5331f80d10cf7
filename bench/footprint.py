"""Footprint of each service's runtime environment, as its image would hold it.

Each environment is made by docker/install-service.sh (the Dockerfile's install steps, bytecode
precompiled as in the image) in a temporary directory. Reported per service: installed size of the
virtual environment (MB = 10^6 bytes, every file counted once), number of distributions, the internal
ones, and the cold import time of the service's app module (`<service>.main`) in a fresh interpreter:
wall-clock median (min-max) of 5 processes, after one warm-up run so the disk is not what is measured,
and the median CPU time (steadier than wall-clock on a busy machine). The install time includes
building the internal wheels and precompiling bytecode.

    uv run python bench/footprint.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"app-api": "app_api.main", "inference-api": "inference_api.main"}
INTERNAL = {"chat-core", "chat-storage", "chat-rag", "app-api", "inference-api"}
RUNS = 5
IMPORT_TIMER = (
    "import time; t, c = time.perf_counter(), time.process_time(); import {module}; "
    "print(time.perf_counter() - t, time.process_time() - c)"
)


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


def import_seconds(venv: Path, module: str) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds of `import module`, each in a fresh interpreter, RUNS times."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    command = [str(venv / "bin" / "python"), "-c", IMPORT_TIMER.format(module=module)]
    subprocess.run(command, env=env, check=True, capture_output=True)  # warm-up: OS file cache
    wall, cpu = [], []
    for _ in range(RUNS):
        output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout.split()
        wall.append(float(output[0]))
        cpu.append(float(output[1]))
    return wall, cpu


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory(prefix="footprint-") as scratch:
        for service, module in SERVICES.items():
            venv = Path(scratch) / service
            install = environment(service, venv)
            names = distributions(venv)
            wall, cpu = import_seconds(venv, module)
            internal = ", ".join(n for n in names if n in INTERNAL)
            rows.append(
                f"| {service} | {size_mb(venv):.0f} | {len(names)} | {internal} "
                f"| {statistics.median(wall) * 1000:.0f} ({min(wall) * 1000:.0f}-{max(wall) * 1000:.0f}) "
                f"| {statistics.median(cpu) * 1000:.0f} | {install:.1f} |"
            )
    print(
        "| service | installed MB | distributions | internal distributions "
        "| import `<service>.main`: wall ms, median (min-max) of 5 | CPU ms, median | install s |"
    )
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(
        f"\nPython {sys.version.split()[0]}, {os.cpu_count()} cores; environments from docker/install-service.sh."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
