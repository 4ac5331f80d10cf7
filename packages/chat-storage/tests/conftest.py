"""Shared fixtures: a moto server over HTTP and freshly provisioned AWS resources per test.

botocore reads `AWS_*` variables and `~/.aws/*` on its own; the session-wide isolation below makes
sure no test ever sees real credentials, profiles, regions or retry settings from the machine.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator

import pytest
import pytest_asyncio
from pydantic import SecretStr

from chat_storage.aws.testing import start_moto_server
from chat_storage.config import AwsStorageConfig


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


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server for the whole session; yields its endpoint URL. Its request log is silenced."""
    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.WARNING)
    server = start_moto_server()
    yield server.endpoint
    server.stop()
    werkzeug_log.setLevel(level)


def make_aws_config(endpoint_url: str, *, prefix: str | None = None, **overrides: object) -> AwsStorageConfig:
    """Config for a test: fake credentials, two attempts per call, and a read timeout (and deadline) long
    enough for a burst of 200 requests queued at the (serialised) moto server."""
    values: dict[str, object] = {
        "endpoint_url": endpoint_url,
        "region": "us-east-1",
        "resource_prefix": prefix or f"t{uuid.uuid4().hex[:12]}",
        "connect_timeout": 3.0,
        "read_timeout": 30.0,
        "max_attempts": 2,
        "deadline": 60.0,
        "access_key_id": SecretStr("testing"),
        "secret_access_key": SecretStr("testing"),
    }
    return AwsStorageConfig.model_validate(values | overrides)


class SpareMotoServer:
    """A moto server of one test's own, which the test may stop (its data stays: moto keeps state
    per process, so the session's `moto_server` still shows what was written)."""

    def __init__(self) -> None:
        self._server = start_moto_server()
        self.endpoint_url = self._server.endpoint

    def stop(self, *, close_socket: bool = False) -> None:
        """Stop serving. The listening socket stays open (connections hang) unless `close_socket`."""
        self._server.stop(close_socket=close_socket)


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
