"""DynamoDB and S3 clients built from `AwsStorageConfig` alone, with explicit timeouts and retries."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

import aioboto3
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.handlers import add_expect_header
from botocore.loaders import Loader, create_loader

from chat_storage.config import AwsStorageConfig

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_s3 import S3Client

__all__ = ["aws_clients", "botocore_config"]

_POOL_SIZE = 50
"""Concurrent HTTP connections per client; requests beyond it wait for a free connection."""


def botocore_config(config: AwsStorageConfig, *, s3: bool = False) -> AioConfig:
    """Timeouts and retries stated explicitly, so a failing backend surfaces in bounded time.

    `total_max_attempts` counts the first try too (plain `max_attempts` would count only retries).
    A custom endpoint (moto, a local stack) gets path-style S3 addressing: it has no bucket subdomains.
    """
    return AioConfig(
        region_name=config.region,
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        retries={"mode": "standard", "total_max_attempts": config.max_attempts},
        max_pool_connections=_POOL_SIZE,
        signature_version="s3v4" if s3 else None,
        s3={"addressing_style": "path"} if s3 and config.endpoint_url else None,
    )


@functools.cache
def _service_models() -> Loader:
    """The loader of botocore's service models and endpoint rules, shared by every session.

    Those JSON files are large; sharing the loader parses them once per process. It holds only that
    read-only data.
    """
    return create_loader()


def _session() -> aioboto3.Session:
    """A fresh session (credentials and their caches stay per session) on the shared model loader."""
    botocore_session = AioSession()
    botocore_session.register_component("data_loader", _service_models())
    return aioboto3.Session(botocore_session=botocore_session)


@asynccontextmanager
async def aws_clients(config: AwsStorageConfig) -> AsyncIterator[tuple[DynamoDBClient, S3Client]]:
    """A DynamoDB and an S3 client for `config`, closed together on exit.

    Without explicit credentials in `config`, botocore's standard chain supplies them.
    """
    options: dict[str, Any] = {"region_name": config.region, "endpoint_url": config.endpoint_url}
    if config.access_key_id and config.secret_access_key:
        options["aws_access_key_id"] = config.access_key_id.get_secret_value()
        options["aws_secret_access_key"] = config.secret_access_key.get_secret_value()
    session = _session()
    async with AsyncExitStack() as stack:
        dynamodb = await stack.enter_async_context(
            session.client("dynamodb", config=botocore_config(config), **options)
        )
        s3 = await stack.enter_async_context(
            session.client("s3", config=botocore_config(config, s3=True), **options)
        )
        # With `Expect: 100-continue` aiohttp awaits the interim answer with no timeout at all, so an
        # endpoint that accepts connections and never answers would hang a put forever. Our objects
        # are small: send them straight away, under the read timeout.
        s3.meta.events.unregister("before-call.s3", add_expect_header)
        for client in (dynamodb, s3):
            _bound_every_call(client, config.deadline)
        yield dynamodb, s3


def _bound_every_call(client: Any, seconds: float) -> None:
    """Give every API call of `client` one deadline covering all its attempts.

    botocore bounds each attempt (connect and read timeouts) and the number of attempts, but not their
    sum: three attempts on a silent endpoint took over 15 s. Every operation method and paginator goes
    through `_make_api_call`, retries included, so bounding it bounds the whole call; the
    `TimeoutError` becomes `UnavailableError` in `_errors.translate`.
    """
    make_api_call = client._make_api_call

    async def bounded(operation_name: str, api_params: dict[str, Any]) -> Any:
        async with asyncio.timeout(seconds):
            return await make_api_call(operation_name, api_params)

    client._make_api_call = bounded
