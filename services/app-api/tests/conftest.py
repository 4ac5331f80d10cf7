"""Fixtures: settings on a temporary data dir, real uvicorn servers on free ports, tokens, and one live
app per storage backend (`sqlite` in a temporary directory, `aws` on a moto server over HTTP).

The live apps are shared by the whole session to keep the suite fast; tests stay independent by
using fresh user ids (`api` gives every test its own users).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from app_api.config import Settings
from app_api.main import create_app
from chat_http.auth import mint_dev_token
from chat_http.secrets import BLOB_SIGNING_KEY_FILE
from chat_storage import AwsStorageConfig, LocalStorageConfig
from chat_storage.aws.testing import start_moto_server
from chat_storage.secrets import load_or_create_secret

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


@pytest.fixture(scope="session", autouse=True)
def _isolated_aws_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fake credentials for moto; no test ever sees the machine's AWS settings or profiles."""
    nowhere = tmp_path_factory.mktemp("aws-home") / "absent"
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("AWS_", "BOTO_")):
                patch.delenv(name)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_CONFIG_FILE", str(nowhere))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nowhere))
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        yield


def free_socket() -> socket.socket:
    """A listening-ready socket bound to 127.0.0.1 on a free port (so the URL is known before start)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve_on(app: Any, sock: socket.socket) -> Iterator[str]:
    """Run an ASGI app under uvicorn in a thread on a pre-bound socket; yield its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


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


@pytest.fixture(scope="session")
def serve() -> Callable[[FastAPI], AbstractContextManager[str]]:
    """`with serve(app) as base_url:` runs the app on real HTTP."""
    return serve_app


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server (DynamoDB + S3) on 127.0.0.1 and a free port for the whole session."""
    server = start_moto_server()
    yield server.endpoint
    server.stop()


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Test settings: a fixed dev secret, plain-text logs, a brisk document reconciler."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "dev_jwt_secret": SecretStr(DEV_SECRET),
        "log_json": False,
        "ingest_reconcile_seconds": 0.2,
        "rate_limit_writes": "100000/minute",  # counted, never reached: the shared apps serve many tests
    }
    return Settings(_env_file=None, **(values | overrides))  # type: ignore[call-arg]


def aws_settings(data_dir: Path, endpoint: str, **overrides: Any) -> Settings:
    """Settings for the aws backend on a moto endpoint under a fresh resource prefix."""
    values: dict[str, Any] = {
        "storage": "aws",
        "aws_endpoint_url": endpoint,
        "resource_prefix": f"t{uuid.uuid4().hex[:10]}",
        "aws_connect_timeout": 1.0,
        "aws_max_attempts": 2,
        "aws_deadline": 20.0,  # a loaded machine's moto is slow; the deadline's own test sets its default
    }
    return make_settings(data_dir, **(values | overrides))


def storage_config(settings: Settings) -> LocalStorageConfig | AwsStorageConfig:
    """The storage configuration the app itself opens (for seeding data behind its back)."""
    secret = (
        load_or_create_secret(settings.data_dir, BLOB_SIGNING_KEY_FILE)
        if settings.storage == "sqlite"
        else ""
    )
    return settings.storage_config(secret)


@dataclass(frozen=True)
class Live:
    """A running app: its backend, URL and settings."""

    backend: str
    base_url: str
    settings: Settings

    def storage_config(self) -> LocalStorageConfig | AwsStorageConfig:
        return storage_config(self.settings)


@contextmanager
def run_live(settings: Settings, *, model_factory: Any = None) -> Iterator[Live]:
    """Start `create_app(settings)` on a free port; `public_url` is that port (signed blob URLs).

    `model_factory` scripts the model of assistants' test chats.
    """
    sock = free_socket()
    settings = settings.model_copy(update={"public_url": f"http://127.0.0.1:{sock.getsockname()[1]}"})
    if settings.storage == "aws":
        from chat_storage.aws import provision

        config = storage_config(settings)
        assert isinstance(config, AwsStorageConfig)
        asyncio.run(provision(config))
    with serve_on(create_app(settings, model_factory=model_factory), sock) as base_url:
        yield Live(settings.storage, base_url, settings)


@pytest.fixture(scope="session")
def sqlite_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The app on the embedded default, shared by the session."""
    with run_live(make_settings(tmp_path_factory.mktemp("sqlite-app"))) as live:
        yield live


@pytest.fixture(scope="session")
def aws_live(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[Live]:
    """The app on DynamoDB + S3 (moto over HTTP), shared by the session."""
    with run_live(aws_settings(tmp_path_factory.mktemp("aws-app"), moto_endpoint)) as live:
        yield live


@pytest.fixture(params=[pytest.param("sqlite"), pytest.param("aws", marks=pytest.mark.aws)])
def live(request: pytest.FixtureRequest) -> Live:
    """The live app, once per storage backend."""
    found = request.getfixturevalue(f"{request.param}_live")
    assert isinstance(found, Live)
    return found


class UserClient(httpx.Client):
    """An HTTP client that calls the app as one user."""

    def __init__(self, base_url: str, user_id: str, *, email: str, name: str, roles: list[str]) -> None:
        token = mint_dev_token(DEV_SECRET, user_id=user_id, email=email, name=name, roles=roles)
        super().__init__(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        self.user_id = user_id
        self.email = email
        self.name = name


Api = Callable[..., UserClient]


@pytest.fixture
def api(live: Live) -> Iterator[Api]:
    """`api("alice", roles=["admin"])`: a client for a user unique to this test."""
    suffix = uuid.uuid4().hex[:8]
    clients: list[UserClient] = []

    def client(
        name: str = "alice", *, roles: list[str] | None = None, base_url: str | None = None
    ) -> UserClient:
        user_id = f"{name}-{suffix}"
        made = UserClient(
            base_url or live.base_url,
            user_id,
            email=f"{user_id}@example.com",
            name=f"{name.capitalize()} {suffix}",
            roles=roles or [],
        )
        clients.append(made)
        return made

    yield client
    for made in clients:
        made.close()


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is the documented error body with this status and code; returns `error`."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert set(error) == {"code", "message", "detail", "field", "requestId"}
    assert error["requestId"] == response.headers["x-request-id"]
    return dict(error)


@pytest.fixture
def check_error() -> Callable[[httpx.Response, int, str], dict[str, Any]]:
    """`assert_error(response, status, code)` (helpers cannot be imported from a conftest)."""
    return assert_error


@pytest.fixture
def start_app() -> Callable[..., AbstractContextManager[Live]]:
    """`with start_app(settings[, model_factory=...]) as live:` runs an app of its own (for tests that
    change settings or script the test chat's model)."""
    return run_live


@pytest.fixture(scope="session")
def settings_for() -> Callable[..., Settings]:
    """`settings_for(data_dir, **overrides)`: test settings for the sqlite backend."""
    return make_settings


@pytest.fixture
def aws_settings_for() -> Callable[..., Settings]:
    """`aws_settings_for(data_dir, endpoint, **overrides)`: test settings for the aws backend."""
    return aws_settings
