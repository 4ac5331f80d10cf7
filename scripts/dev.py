"""`make dev`: app-api and inference-api on the embedded default, in one terminal.

Before starting, it creates the data directory, provisions the tables and bucket when the AWS backend
points at a local endpoint (a moto server from `make moto`), and seeds the model catalogue
(`app-api seed`: adds what is missing, never changes an existing model). The output of both services is
interleaved line by line with a coloured prefix; once both answer, it prints the URLs and development
tokens. Ctrl-C (or either service exiting) stops both.

    uv run python scripts/dev.py [--app-port 8000] [--inference-port 8080] [--provision]
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO
from urllib.error import URLError
from urllib.parse import urlparse
from urllib.request import urlopen

RESET = "\033[0m"
BOLD = "\033[1m"
_OUTPUT = threading.Lock()
_READY_TIMEOUT = 90.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dev.py", description="Run both services for development.")
    parser.add_argument("--host", default=os.environ.get("CHAT_DEV_HOST", "127.0.0.1"), help="interface")
    parser.add_argument("--app-port", type=int, default=8000, help="app-api port (default 8000)")
    parser.add_argument("--inference-port", type=int, default=8080, help="inference-api port (default 8080)")
    parser.add_argument(
        "--provision",
        action="store_true",
        help="CHAT_STORAGE=aws: create tables and bucket first (automatic for a loopback endpoint)",
    )
    return parser


def _write(text: str) -> None:
    with _OUTPUT:
        sys.stdout.write(text)
        sys.stdout.flush()


def _pump(name: str, colour: str, stream: IO[str]) -> None:
    prefix = f"{colour}{name:>13}{RESET} | " if sys.stdout.isatty() else f"{name:>13} | "
    for line in stream:
        _write(prefix + line)


def _is_loopback(url: str | None) -> bool:
    host = urlparse(url or "").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # JUSTIFICATION: a host name other than localhost is simply not loopback.
        return False


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:  # JUSTIFICATION: failing to bind is the answer: the port is taken.
            return True
    return False


def _environment(args: argparse.Namespace) -> dict[str, str]:
    """Defaults for a local run: plain-text logs, blob URLs and CORS origins that match the ports."""
    app_origin = f"http://{args.host}:{args.app_port}"
    origins = [
        app_origin,
        f"http://localhost:{args.app_port}",
        "http://localhost:4200",
        "http://127.0.0.1:4200",
    ]
    defaults = {
        "CHAT_LOG_JSON": "false",
        "CHAT_PUBLIC_URL": app_origin,
        "CHAT_CORS_ORIGINS": ",".join(dict.fromkeys(origins)),
    }
    env = defaults | dict(os.environ) | {"PYTHONUNBUFFERED": "1"}
    if env.get("CHAT_STORAGE") == "aws" and _is_loopback(env.get("CHAT_AWS_ENDPOINT_URL")):
        # A moto server or local stack accepts any credentials; real AWS uses the standard chain.
        env.setdefault("AWS_ACCESS_KEY_ID", "testing")
        env.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    return env


def _seed(env: dict[str, str], *, provision: bool) -> None:
    command = [sys.executable, "-m", "app_api", "seed", *(["--provision"] if provision else [])]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"Seeding the model catalogue failed:\n{result.stdout}{result.stderr}")
    _write(result.stdout)


def _answers(url: str) -> bool:
    try:
        with urlopen(url, timeout=2) as response:  # noqa: S310  (a fixed http URL on this machine)
            return bool(response.status == 200)
    except (URLError, OSError):  # JUSTIFICATION: not answering yet is what the caller polls for.
        return False


def _wait_ready(urls: Iterable[str], processes: list[subprocess.Popen[str]]) -> bool:
    pending = list(urls)
    deadline = time.monotonic() + _READY_TIMEOUT
    while pending and time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            return False
        pending = [url for url in pending if not _answers(url)]
        if pending:
            time.sleep(0.3)
    return not pending


def _tokens() -> list[tuple[str, str]]:
    """Development tokens signed with the secret both services use (from the data directory)."""
    from app_api.config import Settings
    from chat_http.auth import mint_dev_token
    from chat_http.secrets import dev_jwt_secret

    settings = Settings()  # the same CHAT_* variables the services read
    if settings.effective_auth_mode != "dev":
        return []
    secret = dev_jwt_secret(settings)
    return [
        (
            "demo user alice",
            mint_dev_token(secret, user_id="alice", email="alice@example.com", name="Alice"),
        ),
        (
            "admin ada (roles: admin)",
            mint_dev_token(secret, user_id="ada", email="ada@example.com", name="Ada", roles=["admin"]),
        ),
    ]


def _banner(args: argparse.Namespace, env: dict[str, str]) -> str:
    app = f"http://{args.host}:{args.app_port}"
    inference = f"http://{args.host}:{args.inference_port}"
    page = f"{app}/dev" + ("" if args.inference_port == 8080 else f"?inference={inference}")
    bold, reset = (BOLD, RESET) if sys.stdout.isatty() else ("", "")
    lines = [
        "",
        f"{bold}Both services are up.{reset}",
        f"  app-api        {app}   (OpenAPI docs: {app}/docs)",
        f"  inference-api  {inference}   (POST /invocations, GET /ping)",
        f"  dev page       {page}",
        f"  storage        {env.get('CHAT_STORAGE', 'sqlite')}, data in {env.get('CHAT_DATA_DIR', '.chat-data')}",
        "Development tokens (12 h; more with `uv run app-api dev-token --user alice --roles admin`):",
    ]
    lines += [f"  {label}:\n    {token}" for label, token in _tokens()]
    lines += ["Try it: `make demo` in another terminal. Ctrl-C stops both.", "", ""]
    return "\n".join(lines)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop(processes: list[subprocess.Popen[str]]) -> None:
    # A terminal's Ctrl-C reaches this process twice (directly and forwarded by `uv run`): the
    # second must not cut the shutdown short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            # JUSTIFICATION: a service that ignores SIGINT for 10 s is killed; shutdown must end.
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main(argv: list[str] | None = None) -> int:
    """Prepare the data, start both services and supervise them until Ctrl-C."""
    args = _parser().parse_args(argv)
    # Ctrl-C and SIGTERM both stop cleanly, even when started as a background job (SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    env = _environment(args)
    for name, port in (("app-api", args.app_port), ("inference-api", args.inference_port)):
        if _port_in_use(args.host, port):
            sys.exit(
                f"Port {port} ({name}) is already in use: is `make dev` running elsewhere? Choose other "
                "ports with `make dev DEV_ARGS='--app-port 8001 --inference-port 8081'`."
            )
    data_dir = Path(env.get("CHAT_DATA_DIR", ".chat-data"))
    if not data_dir.exists():
        data_dir.mkdir(parents=True)
        _write(f"First run: created the data directory {data_dir}\n")
    storage = env.get("CHAT_STORAGE", "sqlite")
    provision = storage == "aws" and (args.provision or _is_loopback(env.get("CHAT_AWS_ENDPOINT_URL")))
    if provision:
        _write(f"Provisioning DynamoDB tables and the S3 bucket at {env.get('CHAT_AWS_ENDPOINT_URL')}\n")
    try:
        _seed(env, provision=provision)
    except KeyboardInterrupt:
        return 130

    services = [
        ("app-api", "app_api", args.app_port, "\033[36m"),
        ("inference-api", "inference_api", args.inference_port, "\033[35m"),
    ]
    processes: list[subprocess.Popen[str]] = []
    pumps: list[threading.Thread] = []
    try:
        for name, module, port, colour in services:
            process = subprocess.Popen(
                [sys.executable, "-m", module, "--host", args.host, "--port", str(port)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
            processes.append(process)
            assert process.stdout is not None
            pump = threading.Thread(target=_pump, args=(name, colour, process.stdout), daemon=True)
            pump.start()
            pumps.append(pump)
        ready = _wait_ready(
            [f"http://{args.host}:{args.app_port}/health", f"http://{args.host}:{args.inference_port}/ping"],
            processes,
        )
        if not ready:
            _write("A service did not start (see its log above); stopping.\n")
            return 1
        _write(_banner(args, env))
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        _write("A service stopped; stopping the other.\n")
        return 1
    except KeyboardInterrupt:
        _write("\nStopping...\n")
        return 0
    finally:
        _stop(processes)
        for pump in pumps:  # the services' last lines
            pump.join(timeout=2)


if __name__ == "__main__":
    sys.exit(main())
