"""Create the DynamoDB tables (with their indexes) and the S3 bucket; idempotent, never implicit."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chat_core.errors import UnavailableError
from chat_storage.aws._clients import aws_clients
from chat_storage.aws._errors import call, translate
from chat_storage.aws._tables import INDEXES, TTL_ATTRIBUTES, Index, ResourceNames
from chat_storage.config import AwsStorageConfig

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_s3 import S3Client

__all__ = ["provision", "table_definition"]

_ALREADY_THERE = frozenset({"ResourceInUseException", "BucketAlreadyOwnedByYou"})
_INDEX_WAIT_SECONDS = 1800
"""How long a new global index may take to fill from an existing table's items."""


def table_definition(table: str, indexes: tuple[Index, ...]) -> dict[str, Any]:
    """`CreateTable` parameters: string `PK`/`SK`, on-demand billing, every index projecting all."""
    types = {"PK": "S", "SK": "S"} | {index.partition: "S" for index in indexes}
    types |= {index.sort: index.sort_type for index in indexes}
    definition: dict[str, Any] = {
        "TableName": table,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": kind} for name, kind in sorted(types.items())
        ],
        "KeySchema": [
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
    }
    for local, parameter in ((False, "GlobalSecondaryIndexes"), (True, "LocalSecondaryIndexes")):
        chosen = [index for index in indexes if index.local is local]
        if chosen:
            definition[parameter] = [_index_definition(index) for index in chosen]
    return definition


def _index_definition(index: Index) -> Any:
    return {
        "IndexName": index.name,
        "KeySchema": [
            {"AttributeName": index.partition, "KeyType": "HASH"},
            {"AttributeName": index.sort, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }


async def _create_table(dynamodb: DynamoDBClient, table: str, indexes: tuple[Index, ...]) -> None:
    """Create one table and wait until it is active; an existing table gains its missing global indexes."""
    existed = False
    try:
        response = await dynamodb.create_table(**table_definition(table, indexes))
    except ClientError as exc:  # JUSTIFICATION: provisioning is idempotent; an existing table is the goal.
        if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise translate(exc, "create a table") from exc
        existed = True
    except Exception as exc:
        raise translate(exc, "create a table") from exc
    else:
        if response["TableDescription"].get("TableStatus") == "ACTIVE":
            return
    waiter = dynamodb.get_waiter("table_exists")
    await call(
        "wait for a table", waiter.wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    )
    if existed:
        await _add_missing_indexes(dynamodb, table, indexes)


async def _global_index_states(dynamodb: DynamoDBClient, table: str) -> dict[str, str]:
    described = await call("describe a table", dynamodb.describe_table(TableName=table))
    return {
        index["IndexName"]: index.get("IndexStatus", "ACTIVE")
        for index in described["Table"].get("GlobalSecondaryIndexes", [])
    }


async def _add_missing_indexes(dynamodb: DynamoDBClient, table: str, indexes: tuple[Index, ...]) -> None:
    """Create the global indexes that a table made by an older version lacks.

    One at a time, as DynamoDB requires, waiting until each is active (DynamoDB fills a new index from
    the existing items). Local indexes can only be made with the table; none has been added to an existing table.
    """
    for index in indexes:
        if index.local or index.name in await _global_index_states(dynamodb, table):
            continue
        try:
            await dynamodb.update_table(
                TableName=table,
                AttributeDefinitions=[
                    {"AttributeName": index.partition, "AttributeType": "S"},
                    {"AttributeName": index.sort, "AttributeType": index.sort_type},
                ],
                GlobalSecondaryIndexUpdates=[{"Create": _index_definition(index)}],
            )
        except ClientError as exc:  # JUSTIFICATION: a concurrent provision may have created it first.
            if index.name not in await _global_index_states(dynamodb, table):
                raise translate(exc, "add an index") from exc
        except Exception as exc:
            raise translate(exc, "add an index") from exc
        for _ in range(_INDEX_WAIT_SECONDS):
            if (await _global_index_states(dynamodb, table)).get(index.name) == "ACTIVE":
                break
            await asyncio.sleep(1)
        else:
            raise UnavailableError(f"The index {index.name!r} of {table!r} did not become active in time.")


async def _enable_ttl(dynamodb: DynamoDBClient, table: str, attribute: str) -> None:
    """Let DynamoDB delete expired items (readers still check expiry: deletion lags by hours)."""
    described = await call("read a table's expiry", dynamodb.describe_time_to_live(TableName=table))
    if described.get("TimeToLiveDescription", {}).get("TimeToLiveStatus") in {"ENABLED", "ENABLING"}:
        return
    await call(
        "enable a table's expiry",
        dynamodb.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}
        ),
    )


async def _create_bucket(s3: S3Client, bucket: str, region: str) -> None:
    """Create the bucket; one this account already owns is left as it is."""
    request: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        request["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        await s3.create_bucket(**request)
    except ClientError as exc:  # JUSTIFICATION: provisioning is idempotent; an existing bucket is the goal.
        if exc.response.get("Error", {}).get("Code") not in _ALREADY_THERE:
            raise translate(exc, "create the bucket") from exc
    except Exception as exc:
        raise translate(exc, "create the bucket") from exc


async def provision(config: AwsStorageConfig) -> None:
    """Create every missing table (with its indexes, waiting until active) and the bucket.

    For tests and `make dev`; production infrastructure is created by its own tooling. Safe to run
    again and concurrently.

    Raises:
        UnavailableError: when AWS (or the endpoint) cannot be reached.
    """
    names = ResourceNames(config.resource_prefix)
    async with aws_clients(config) as (dynamodb, s3):
        await asyncio.gather(
            *(_create_table(dynamodb, table, INDEXES[name]) for name, table in names.tables().items()),
            _create_bucket(s3, names.bucket, config.region),
        )
        for name, attribute in TTL_ATTRIBUTES.items():
            await _enable_ttl(dynamodb, names.tables()[name], attribute)
