"""Provisioning and opening: what exists, what is never created implicitly, how clients are configured."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from chat_core.costs import CostRecord, PricingSnapshot, TokenUsage
from chat_core.errors import UnavailableError
from chat_core.ids import SessionId, UserId
from chat_storage.aws import ResourceNames, open_aws_storage, provision
from chat_storage.aws._clients import aws_clients, botocore_config
from chat_storage.aws.provision import table_definition
from chat_storage.config import AwsStorageConfig

pytestmark = pytest.mark.aws

EXPECTED_INDEXES = {
    "sessions": ({"by-last-message"}, set()),
    "messages": (set(), set()),
    "models": (set(), set()),
    "assistants": ({"by-owner", "public", "shared-with"}, set()),
    "documents": ({"unfinished"}, {"by-created"}),
    "files": (set(), {"by-date", "by-size", "by-type"}),
    "costs": ({"by-time"}, set()),
    "users": ({"by-login", "by-status", "by-domain"}, {"by-email", "by-name"}),
    "roles": (set(), set()),
    "tools": (set(), set()),
    "logins": (set(), set()),
    "quotas": ({"overrides-by-user", "overrides-by-end", "events-by-user", "events-by-tier"}, set()),
    "usage": ({"by-spend"}, set()),
}


class TestProvision:
    @pytest.mark.asyncio
    async def test_creates_every_table_with_its_indexes_and_the_bucket(
        self, aws_storage_config: AwsStorageConfig
    ) -> None:
        names = ResourceNames(aws_storage_config.resource_prefix)
        async with aws_clients(aws_storage_config) as (dynamodb, s3):
            for logical, (global_indexes, local_indexes) in EXPECTED_INDEXES.items():
                table = (await dynamodb.describe_table(TableName=getattr(names, logical)))["Table"]
                assert table["TableStatus"] == "ACTIVE"
                assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
                assert [key["AttributeName"] for key in table["KeySchema"]] == ["PK", "SK"]
                assert {
                    index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])
                } == global_indexes
                assert {
                    index["IndexName"] for index in table.get("LocalSecondaryIndexes", [])
                } == local_indexes
            await s3.head_bucket(Bucket=names.bucket)
            expiry = await dynamodb.describe_time_to_live(TableName=names.logins)
            assert expiry["TimeToLiveDescription"]["AttributeName"] == "ttl"
            assert expiry["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"

    @pytest.mark.asyncio
    async def test_an_existing_table_gains_a_missing_global_index_filled_from_its_items(
        self, aws_storage_config: AwsStorageConfig
    ) -> None:
        names = ResourceNames(aws_storage_config.resource_prefix)
        async with aws_clients(aws_storage_config) as (dynamodb, _):
            await dynamodb.delete_table(TableName=names.costs)
            await dynamodb.get_waiter("table_not_exists").wait(TableName=names.costs)
            await dynamodb.create_table(**table_definition(names.costs, ()))  # as an older version made it
        async with open_aws_storage(aws_storage_config) as storage:
            record = CostRecord.for_turn(
                user_id=UserId("alice"),
                session_id=SessionId("s-1"),
                message_id="msg-s-1-1",
                model_id="m",
                model_name="M",
                provider=None,
                usage=TokenUsage(input_tokens=10, total_tokens=10),
                pricing=PricingSnapshot(input_price_per_mtok=1.0, output_price_per_mtok=1.0),
                timestamp=datetime(2025, 3, 1, 12, tzinfo=UTC),
            )
            await storage.costs.record(record)
            await provision(aws_storage_config)
            await provision(aws_storage_config)  # nothing left to add
            report = await storage.costs.report(UserId("alice"), date(2025, 3, 1), date(2025, 3, 1))
        assert report.total_requests == 1
        async with aws_clients(aws_storage_config) as (dynamodb, _):
            table = (await dynamodb.describe_table(TableName=names.costs))["Table"]
        assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["by-time"]

    @pytest.mark.asyncio
    async def test_running_it_again_changes_nothing(self, aws_storage_config: AwsStorageConfig) -> None:
        async with open_aws_storage(aws_storage_config) as storage:
            await storage.sessions.record_turn(UserId("alice"), SessionId("s-1"), at=datetime.now(UTC))
            await provision(aws_storage_config)
            session = await storage.sessions.get(UserId("alice"), SessionId("s-1"))
        assert session is not None
        assert session.message_count == 1


class TestOpen:
    @pytest.mark.asyncio
    async def test_opening_creates_nothing_and_a_missing_table_is_unavailable(
        self, moto_server: str, aws_config_factory: Callable[..., AwsStorageConfig]
    ) -> None:
        config = aws_config_factory(moto_server)
        async with open_aws_storage(config) as storage:
            with pytest.raises(UnavailableError, match="not ready"):
                await storage.ping()
            with pytest.raises(UnavailableError, match="not ready"):
                await storage.sessions.list(UserId("alice"))
        async with aws_clients(config) as (dynamodb, _):
            tables = (await dynamodb.list_tables())["TableNames"]
        assert not [table for table in tables if table.startswith(config.resource_prefix)]

    @pytest.mark.asyncio
    async def test_ping_passes_once_provisioned(self, aws_storage_config: AwsStorageConfig) -> None:
        async with open_aws_storage(aws_storage_config) as storage:
            await storage.ping()


class TestClientConfig:
    def test_timeouts_and_retries_are_explicit(
        self, aws_config_factory: Callable[..., AwsStorageConfig]
    ) -> None:
        config = aws_config_factory(
            "http://127.0.0.1:9", connect_timeout=0.5, read_timeout=2.5, max_attempts=3, region="eu-west-1"
        )
        botocore: Any = botocore_config(config)  # botocore sets its options as dynamic attributes
        assert (botocore.connect_timeout, botocore.read_timeout, botocore.region_name) == (
            0.5,
            2.5,
            "eu-west-1",
        )
        assert botocore.retries == {"mode": "standard", "total_max_attempts": 3}

    def test_a_custom_endpoint_uses_path_style_s3(
        self, aws_config_factory: Callable[..., AwsStorageConfig]
    ) -> None:
        custom: Any = botocore_config(aws_config_factory("http://127.0.0.1:9"), s3=True)
        real: Any = botocore_config(AwsStorageConfig(), s3=True)
        assert custom.s3 == {"addressing_style": "path"}
        assert real.s3 is None

    def test_names_derive_from_the_prefix(self) -> None:
        names = ResourceNames("prod-chat")
        assert (names.sessions, names.bucket) == ("prod-chat-sessions", "prod-chat-blobs")
        assert len(names.tables()) == len(EXPECTED_INDEXES)
