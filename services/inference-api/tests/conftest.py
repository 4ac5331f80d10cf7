"""Fixtures: settings on a temporary data dir, a real uvicorn server on a free port, tokens, and a
guard that fails any test reaching beyond the loopback interface (no real model provider, ever)."""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from fastapi import FastAPI
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).parent))  # the test kit beside this file (importlib import mode)

from inference_testing import (
    SCRIPTED_MODEL_ID,
    ScriptedModels,
    Service,
    managed_model,
    seed_tools,
    serve_app,
    storage_for,
)

from chat_core.managed_models import ModelProvider
from chat_http.auth import mint_dev_token
from inference_api.config import Settings
from inference_api.main import create_app

DEV_SECRET = "test-secret-" + "x" * 40


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path / "data",
        dev_jwt_secret=SecretStr(DEV_SECRET),
        model_max_attempts=2,
        model_retry_delay=0,
        shutdown_grace_seconds=10,
        log_json=False,
    )


def auth_headers(
    user_id: str = "alice", *, roles: list[str] | None = None, email: str | None = None
) -> dict[str, str]:
    token = mint_dev_token(
        DEV_SECRET, user_id=user_id, email=email or f"{user_id}@example.com", roles=roles or []
    )
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auth() -> Callable[..., dict[str, str]]:
    """`auth("bob", roles=["admin"])` -> headers with a valid bearer token for that user."""
    return auth_headers


@pytest.fixture
def serve() -> Callable[[FastAPI], AbstractContextManager[str]]:
    """`with serve(app) as base_url:` runs the app on real HTTP."""
    return serve_app


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return True  # unix sockets and the like never leave the machine
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse, and fail the test for, any connection or name lookup beyond 127.0.0.1.

    Model providers (Bedrock, OpenAI) and AWS are reached only through fakes on loopback; a request
    to a real one is refused at the socket and reported here even if the code under test handled it.
    """
    attempts: list[str] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_loopback(host.decode() if isinstance(host, bytes) else host):
            attempts.append(f"lookup {host}")
            raise OSError(f"tests must not reach {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def check(address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if not _is_loopback(host):
            attempts.append(f"connect {address}")
            raise OSError(f"tests must not reach {address!r}")

    def guarded_connect(self: socket.socket, address: Any) -> None:
        check(address)
        real_connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    yield attempts
    assert not attempts, f"the test tried to reach the network: {attempts}"


@pytest_asyncio.fixture
async def service(settings: Settings) -> AsyncIterator[Service]:
    """inference-api under uvicorn with the scripted model, an offline default, a priced model, and
    the built-in tools catalogued (public), as `app-api seed` leaves a fresh deployment."""
    scripted = ScriptedModels()
    async with storage_for(settings) as storage:
        await storage.managed_models.create(managed_model())
        await storage.managed_models.create(
            managed_model(
                SCRIPTED_MODEL_ID, provider=ModelProvider.BEDROCK, input_price=3.0, output_price=15.0
            )
        )
        await seed_tools(storage)
        with serve_app(create_app(settings, model_factory=scripted)) as url:
            yield Service(url, settings, scripted, storage)
