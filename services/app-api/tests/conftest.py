"""Fixtures: settings on a temporary data dir, a real uvicorn server on a free port, tokens."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from app_api.config import Settings
from chat_core.auth import mint_dev_token

DEV_SECRET = "test-secret-" + "x" * 40


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", dev_jwt_secret=SecretStr(DEV_SECRET))  # type: ignore[call-arg]


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


@contextmanager
def serve_app(app: FastAPI) -> Iterator[str]:
    """Run `app` under uvicorn in a thread on a free loopback port; yield its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def serve() -> Callable[[FastAPI], AbstractContextManager[str]]:
    """`with serve(app) as base_url:` runs the app on real HTTP."""
    return serve_app
