"""The service foundation: start-up, /ping, request ids, and the error body."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import ValidationError

from chat_core.errors import ConflictError
from inference_api.config import Environment, Settings
from inference_api.dependencies import CurrentUser
from inference_api.main import create_app


@pytest.fixture
def base_url(settings: Settings, serve: Callable[[FastAPI], AbstractContextManager[str]]) -> Iterator[str]:
    app = create_app(settings)
    router = APIRouter()

    @router.get("/probe/conflict")
    async def conflict(user: CurrentUser) -> None:
        raise ConflictError("The session changed meanwhile.")

    @router.get("/probe/crash")
    async def crash() -> None:
        raise KeyError("internal-key-name")

    app.include_router(router)
    with serve(app) as url:
        yield url


def test_ping(base_url: str) -> None:
    response = httpx.get(f"{base_url}/ping")
    assert response.status_code == 200
    assert response.json() == {
        "status": "Healthy",
        "time_of_last_update": response.json()["time_of_last_update"],
    }
    assert isinstance(response.json()["time_of_last_update"], int)
    assert response.headers["x-request-id"]


def test_unknown_route_has_the_error_body(base_url: str) -> None:
    response = httpx.post(f"{base_url}/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response.json()["error"]["requestId"] == response.headers["x-request-id"]


def test_chat_error_after_auth(base_url: str, auth: Callable[..., dict[str, str]]) -> None:
    assert httpx.get(f"{base_url}/probe/conflict").status_code == 401
    response = httpx.get(f"{base_url}/probe/conflict", headers=auth("bob"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_unexpected_exception_is_a_generic_500(base_url: str) -> None:
    response = httpx.get(f"{base_url}/probe/crash")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "internal-key-name" not in response.text


def test_production_refuses_dev_auth() -> None:
    with pytest.raises(ValidationError, match="refused"):
        Settings(_env_file=None, env=Environment.PRODUCTION, auth_mode="dev")  # type: ignore[call-arg]


def test_console_script_serves_ping(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = os.environ | {"CHAT_DATA_DIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "inference_api", "--port", str(port)], env=env, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert response.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
