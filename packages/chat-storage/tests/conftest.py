"""Shared fixtures: a moto server over HTTP and freshly provisioned AWS resources per test.

botocore reads `AWS_*` variables and `~/.aws/*` on its own; the session-wide isolation below makes
sure no test ever sees real credentials, profiles, regions or retry settings from the machine.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import pytest_asyncio
from pydantic import SecretStr

from chat_storage.config import AwsStorageConfig

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@pytest.fixture(scope="session", autouse=True)
def _isolated_aws_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    nowhere = tmp_path_factory.mktemp("aws-home") / "absent"
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("AWS_", "BOTO_")):
                patch.delenv(name)
        patch.setenv("AWS_CONFIG_FILE", str(nowhere))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nowhere))
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield


def _one_request_at_a_time(app: WsgiApp) -> WsgiApp:
    """moto serves each request on its own thread without a lock, so two writes to one item (or a
    write during a transaction's snapshot) can interleave; real DynamoDB applies each request
    atomically. Serialising requests restores that, so concurrency tests test our code, not moto."""
    lock = threading.Lock()

    def serialized(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with lock:
            return list(app(environ, start_response))

    return serialized


def start_moto_server() -> Any:
    """Start a `ThreadedMotoServer` on 127.0.0.1 and a free port, requests serialised (see above)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    wsgi: Any = server._server
    wsgi.app = _one_request_at_a_time(wsgi.app)
    # Nagle's algorithm meets delayed ACKs on responses written in pieces: ~40 ms per request.
    wsgi.RequestHandlerClass.disable_nagle_algorithm = True
    return server


def endpoint_of(server: Any) -> str:
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server for the whole session; yields its endpoint URL. Its request log is silenced."""
    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.WARNING)
    server = start_moto_server()
    yield endpoint_of(server)
    server.stop()
    server._server.server_close()
    werkzeug_log.setLevel(level)


def make_aws_config(endpoint_url: str, *, prefix: str | None = None, **overrides: object) -> AwsStorageConfig:
    """Config for a test: fake credentials, two attempts per call, and a read timeout long enough for
    a burst of 200 requests queued at the (serialised) moto server."""
    values: dict[str, object] = {
        "endpoint_url": endpoint_url,
        "region": "us-east-1",
        "resource_prefix": prefix or f"t{uuid.uuid4().hex[:12]}",
        "connect_timeout": 1.0,
        "read_timeout": 30.0,
        "max_attempts": 2,
        "access_key_id": SecretStr("testing"),
        "secret_access_key": SecretStr("testing"),
    }
    return AwsStorageConfig.model_validate(values | overrides)


class SpareMotoServer:
    """A moto server of one test's own, which the test may stop (its data stays: moto keeps state
    per process, so the session's `moto_server` still shows what was written)."""

    def __init__(self) -> None:
        self._server = start_moto_server()
        self.endpoint_url = endpoint_of(self._server)
        self.running = True

    def stop(self, *, close_socket: bool = False) -> None:
        """Stop serving. The listening socket stays open (connections hang) unless `close_socket`."""
        if self.running:
            self._server.stop()
            self.running = False
        if close_socket:
            self._server._server.server_close()


@pytest.fixture
def spare_moto_server(moto_server: str) -> Iterator[SpareMotoServer]:
    """A second moto server for tests that stop it."""
    spare = SpareMotoServer()
    yield spare
    spare.stop(close_socket=True)


@pytest.fixture
def aws_config_factory() -> Callable[..., AwsStorageConfig]:
    """`make_aws_config`, for tests that need a config for another endpoint (a stopped server...)."""
    return make_aws_config


@pytest_asyncio.fixture
async def aws_storage_config(moto_server: str) -> AwsStorageConfig:
    """Freshly provisioned tables and bucket under a unique prefix.

    They are left in place afterwards: dropping them costs more time than the memory they hold, and
    other tests use their own tables, so their size does not slow anything down.
    """
    from chat_storage.aws import provision

    config = make_aws_config(moto_server)
    await provision(config)
    return config
