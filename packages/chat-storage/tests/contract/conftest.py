"""The `storage` fixture: every contract test runs once per backend.

`sqlite` opens a fresh data directory in `tmp_path`; `aws` uses the `aws_storage_config` fixture
(a moto server over HTTP with freshly provisioned tables and buckets, from `tests/conftest.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from pydantic import SecretStr

from chat_storage import AwsStorageConfig, LocalStorageConfig, Storage, open_storage

BLOB_SECRET = "contract-test-secret"


@pytest.fixture(
    params=[pytest.param("sqlite", id="sqlite"), pytest.param("aws", id="aws", marks=pytest.mark.aws)]
)
def storage_config(request: pytest.FixtureRequest, tmp_path: Path) -> LocalStorageConfig | AwsStorageConfig:
    if request.param == "sqlite":
        return LocalStorageConfig(
            data_dir=tmp_path / "data", blob_signing_secret=SecretStr(BLOB_SECRET), busy_timeout_ms=10_000
        )
    config = request.getfixturevalue("aws_storage_config")
    assert isinstance(config, AwsStorageConfig)
    return config


@pytest_asyncio.fixture
async def storage(storage_config: LocalStorageConfig | AwsStorageConfig) -> AsyncIterator[Storage]:
    async with open_storage(storage_config) as opened:
        yield opened


@pytest_asyncio.fixture
async def other_storage(storage_config: LocalStorageConfig | AwsStorageConfig) -> AsyncIterator[Storage]:
    """A second, independent handle on the same data (like a second process or app instance)."""
    async with open_storage(storage_config) as opened:
        yield opened
