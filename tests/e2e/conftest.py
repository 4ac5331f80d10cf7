"""Both services as `make dev` runs them (scripts/dev.py), on free ports with a temporary data dir.

Every child process gets a clean environment: no `CHAT_*` or `AWS_*` variable of the machine leaks in,
so the tests see the embedded defaults unless they set something themselves.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the kit beside this file (importlib import mode)

from e2e_kit import ROOT, Services, clean_env, free_port

START_TIMEOUT = 120.0


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:  # JUSTIFICATION: not answering yet is what the caller polls for.
        return False


@pytest.fixture(scope="session")
def dev_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """`scripts/dev.py` with a fresh data directory: it seeds the catalogue and starts both services."""
    base = tmp_path_factory.mktemp("dev")
    data_dir = base / "data"
    log = base / "dev.log"
    app_port, inference_port = free_port(), free_port()
    command = [sys.executable, str(ROOT / "scripts" / "dev.py")]
    command += ["--app-port", str(app_port), "--inference-port", str(inference_port)]
    services = Services(f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{inference_port}", data_dir, log)
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            env=clean_env(base, CHAT_DATA_DIR=str(data_dir)),
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not (_answers(f"{services.app_url}/health") and _answers(f"{services.inference_url}/ping")):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"scripts/dev.py did not start both services:\n{log.read_text()[-4000:]}")
                time.sleep(0.3)
            yield services
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                # JUSTIFICATION: the runner ignored Ctrl-C; it is killed so the session ends (the assert below fails).
                process.kill()
                process.wait()
    assert process.returncode == 0, f"scripts/dev.py did not stop cleanly:\n{log.read_text()[-4000:]}"
