"""`make dev`: app-api and inference-api on the embedded default, in one terminal.

Output of both is interleaved line by line with a coloured prefix; Ctrl-C (or either service
exiting) stops both.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

SERVICES = [("app-api", "app_api", 8000, "\033[36m"), ("inference-api", "inference_api", 8080, "\033[35m")]
RESET = "\033[0m"


def _pump(name: str, colour: str, stream: object) -> None:
    prefix = f"{colour}{name:>13}{RESET} | " if sys.stdout.isatty() else f"{name:>13} | "
    for line in stream:  # type: ignore[attr-defined]
        sys.stdout.write(prefix + line)
        sys.stdout.flush()


def main() -> int:
    """Start both services and supervise them until Ctrl-C."""
    env = os.environ | {"CHAT_LOG_JSON": os.environ.get("CHAT_LOG_JSON", "false"), "PYTHONUNBUFFERED": "1"}
    Path(env.get("CHAT_DATA_DIR", ".chat-data")).mkdir(parents=True, exist_ok=True)
    host = env.get("CHAT_DEV_HOST", "127.0.0.1")
    processes = []
    for name, module, port, colour in SERVICES:
        process = subprocess.Popen(
            [sys.executable, "-m", module, "--host", host, "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=_pump, args=(name, colour, process.stdout), daemon=True).start()
        processes.append(process)
    print(f"app-api:       http://{host}:8000  (OpenAPI docs: http://{host}:8000/docs)")
    print(f"inference-api: http://{host}:8080  (POST /invocations, GET /ping)")
    print("A development token: uv run app-api dev-token --user alice --roles admin")
    print("Ctrl-C stops both.")
    try:
        while all(process.poll() is None for process in processes):
            threading.Event().wait(0.5)
    except KeyboardInterrupt:
        print("\nStopping...")
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                # JUSTIFICATION: a service that ignores SIGINT for 10 s is killed; shutdown must end.
                os.killpg(process.pid, signal.SIGKILL)
    return max((process.returncode or 0) for process in processes)


if __name__ == "__main__":
    sys.exit(main())
