"""Both services started by their console scripts (`app-api --port`, `inference-api --port`), as an
operator runs them, with nothing configured but a data directory: oversized heads and bodies get the
error body (431, 413) from the real HTTP server, and app-api's upload links name the port it serves.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the kit beside this file (importlib import mode)

from e2e_kit import clean_env, free_port

START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Started:
    app_url: str
    inference_url: str
    data_dir: Path


def _wait(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:  # JUSTIFICATION: not answering yet is what this loop waits for.
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{url} did not answer:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    base = tmp_path_factory.mktemp("hardening")
    data_dir = base / "data"
    env = clean_env(base, CHAT_DATA_DIR=str(data_dir), CHAT_LOG_JSON="false")
    app_port, inference_port = free_port(), free_port()
    commands = {
        "app": [sys.executable, "-m", "app_api", "--port", str(app_port)],
        "inference": [sys.executable, "-m", "inference_api", "--port", str(inference_port)],
    }
    processes = {}
    try:
        for name, command in commands.items():
            with (base / f"{name}.log").open("wb") as log:
                processes[name] = subprocess.Popen(command, env=env, cwd=base, stdout=log, stderr=log)
        _wait(processes["app"], f"http://127.0.0.1:{app_port}/health", base / "app.log")
        _wait(processes["inference"], f"http://127.0.0.1:{inference_port}/ping", base / "inference.log")
        yield Started(f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{inference_port}", data_dir)
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(timeout=30)


def token(data_dir: Path) -> str:
    from app_api.config import Settings
    from chat_http.auth import mint_dev_token
    from chat_http.secrets import dev_jwt_secret

    settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
    return mint_dev_token(dev_jwt_secret(settings), user_id="hardy", email="hardy@example.com")


def raw_request(url: str, head: bytes, body: bytes = b"") -> tuple[int, dict[str, Any]]:
    """Send a request head (and the start of a body) on a plain socket; the status and JSON body."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head + body)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
            if b"\r\n\r\n" in received:
                headers, _, rest = received.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in headers.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                if len(rest) >= length:
                    status = int(headers.split(b" ", 2)[1])
                    return status, json.loads(rest[:length])
    raise AssertionError(f"no complete response: {received[:300]!r}")


class TestOversizedRequests:
    def test_a_140_kb_bearer_token_is_431_with_the_error_body_on_both_services(
        self, started: Started
    ) -> None:
        bearer = b"Bearer " + b"a" * 140_000
        for url, path in ((started.app_url, b"/sessions"), (started.inference_url, b"/invocations")):
            head = b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer + b"\r\n\r\n"
            status, body = raw_request(url, head)
            assert status == 431, (url, body)
            assert body["error"]["code"] == "bad_request"
            assert body["error"]["detail"] == {"maxBytes": 32768}

    def test_a_50_mb_body_is_413_before_it_is_read_on_both_services(self, started: Started) -> None:
        auth = f"Authorization: Bearer {token(started.data_dir)}\r\n".encode()
        for url, path in ((started.app_url, b"/assistants"), (started.inference_url, b"/invocations")):
            head = (
                b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + auth
                + b"Content-Length: 52428800\r\n\r\n"
            )  # fmt: skip
            status, body = raw_request(url, head, b'{"name": "' + b"x" * 1000)
            assert status == 413, (url, body)
            assert (body["error"]["code"], body["error"]["field"]) == ("validation_error", "body")


class TestPublicUrl:
    def test_upload_links_name_the_port_the_service_was_started_on(self, started: Started) -> None:
        headers = {"Authorization": f"Bearer {token(started.data_dir)}"}
        presign = httpx.post(
            f"{started.app_url}/files/presign",
            headers=headers,
            json={"sessionId": "s-1", "filename": "a.txt", "mimeType": "text/plain", "sizeBytes": 5},
        ).json()
        assert presign["presignedUrl"].startswith(f"{started.app_url}/blobs/")
        stored = httpx.put(presign["presignedUrl"], content=b"hello", headers={"Content-Type": "text/plain"})
        assert stored.status_code == 204
