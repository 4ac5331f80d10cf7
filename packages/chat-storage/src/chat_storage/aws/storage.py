"""Open the AWS backend: every repository on one pair of DynamoDB and S3 clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from chat_storage.aws._clients import aws_clients
from chat_storage.aws._errors import call
from chat_storage.aws._items import key
from chat_storage.aws._tables import ResourceNames
from chat_storage.aws.assistants import DynamoAssistantRepository
from chat_storage.aws.costs import DynamoCostLedger
from chat_storage.aws.documents import DynamoDocumentRepository
from chat_storage.aws.files import DynamoFileRepository
from chat_storage.aws.managed_models import DynamoManagedModelRepository
from chat_storage.aws.quotas import DynamoQuotaRepository
from chat_storage.aws.roles import DynamoAppRoleRepository, DynamoLoginStateStore, DynamoToolRepository
from chat_storage.aws.s3 import S3BlobStore
from chat_storage.aws.sessions import DynamoMessageRepository, DynamoSessionRepository
from chat_storage.aws.turns import DynamoTurnRepository
from chat_storage.aws.usage import DynamoRateLimitCounters, DynamoUsageLedger
from chat_storage.aws.users import DynamoUserRepository
from chat_storage.base import Storage
from chat_storage.config import AwsStorageConfig

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_s3 import S3Client

__all__ = ["aws_storage", "open_aws_storage"]


def aws_storage(dynamodb: DynamoDBClient, s3: S3Client, names: ResourceNames) -> Storage:
    """The `Storage` over clients someone else owns (and closes)."""

    async def ping() -> None:
        # Data-plane calls the service is already allowed to make (DescribeTable is a throttled
        # control-plane API): a read of a key no item has, and the bucket's existence.
        await call("reach DynamoDB", dynamodb.get_item(TableName=names.sessions, Key=key("PING", "PING")))
        await call("reach S3", s3.head_bucket(Bucket=names.bucket))

    return Storage(
        backend="aws",
        sessions=DynamoSessionRepository(dynamodb, names.sessions),
        messages=DynamoMessageRepository(dynamodb, names.messages),
        managed_models=DynamoManagedModelRepository(dynamodb, names.models),
        assistants=DynamoAssistantRepository(dynamodb, names.assistants),
        files=DynamoFileRepository(dynamodb, names.files),
        documents=DynamoDocumentRepository(dynamodb, names.documents),
        costs=DynamoCostLedger(dynamodb, names.costs, names.usage),
        users=DynamoUserRepository(dynamodb, names.users),
        roles=DynamoAppRoleRepository(dynamodb, names.roles),
        tools=DynamoToolRepository(dynamodb, names.tools),
        login_states=DynamoLoginStateStore(dynamodb, names.logins),
        quotas=DynamoQuotaRepository(dynamodb, names.quotas),
        usage=DynamoUsageLedger(dynamodb, names.usage),
        rate_limits=DynamoRateLimitCounters(dynamodb, names.usage),
        blobs=S3BlobStore(s3, names.bucket),
        ping=ping,
        turns=DynamoTurnRepository(dynamodb, names),
    )


@asynccontextmanager
async def open_aws_storage(config: AwsStorageConfig) -> AsyncIterator[Storage]:
    """Yield the AWS `Storage`; its clients close when the context exits.

    Nothing is created here: tables and the bucket come from `provision` (tests, `make dev`) or from
    infrastructure code. A missing table surfaces as `UnavailableError` on first use and in `ping`.
    """
    async with aws_clients(config) as (dynamodb, s3):
        yield aws_storage(dynamodb, s3, ResourceNames(config.resource_prefix))
