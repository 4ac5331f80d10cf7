"""`open_storage`: the one entry point the services use to get a `Storage` for their configuration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import assert_never

from chat_core.errors import MissingExtraError
from chat_storage.base import Storage
from chat_storage.config import AwsStorageConfig, LocalStorageConfig, StorageConfig

__all__ = ["open_storage"]


@asynccontextmanager
async def open_storage(config: StorageConfig) -> AsyncIterator[Storage]:
    """Open the backend `config` names and close it when the block ends.

    The AWS backend is imported only when asked for, so the embedded default needs no AWS SDK
    (install `chat-storage[aws]` for it).

    Raises:
        UnavailableError: when the backend cannot be reached.
    """
    match config:
        case LocalStorageConfig():
            from chat_storage.local import open_local_storage

            async with open_local_storage(config) as storage:
                yield storage
        case AwsStorageConfig():
            try:
                from chat_storage.aws import open_aws_storage
            except ImportError as exc:
                raise MissingExtraError("The AWS storage backend", "pip install 'chat-storage[aws]'") from exc

            async with open_aws_storage(config) as storage:
                yield storage
        case _:
            assert_never(config)
