"""The DynamoDB key design, checked on the stored items and on the requests made.

The contract suite checks behaviour on every backend; these tests check how the AWS backend gets it:
immutable keys, sparse indexes, uniqueness items, one query per page, cursors bound to a partition.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chat_core.assistants import Assistant, AssistantStatus, Visibility
from chat_core.errors import InvalidInputError
from chat_core.ids import AssistantId, SessionId, UserId
from chat_core.managed_models import ManagedModel, ManagedModelUpdate, ModelProvider
from chat_core.messages import ContentBlock, MessageDraft
from chat_core.pagination import decode_cursor, encode_cursor
from chat_core.sessions import SessionStatus, SessionUpdate
from chat_storage.aws import ResourceNames
from chat_storage.aws._clients import aws_clients
from chat_storage.aws.storage import aws_storage
from chat_storage.base import Storage
from chat_storage.config import AwsStorageConfig

pytestmark = pytest.mark.aws

ALICE = UserId("alice")
BOB = UserId("bob")
START = datetime(2026, 11, 1, 12, tzinfo=UTC)


class Recorder:
    """Every DynamoDB operation a client sends, with its index name."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.calls.append((model.name, params.get("IndexName")))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@asynccontextmanager
async def opened(config: AwsStorageConfig) -> AsyncIterator[tuple[Storage, Any, Recorder, ResourceNames]]:
    names = ResourceNames(config.resource_prefix)
    recorder = Recorder()
    async with aws_clients(config) as (dynamodb, s3):
        dynamodb.meta.events.register("before-parameter-build.dynamodb", recorder)
        yield aws_storage(dynamodb, s3, names), dynamodb, recorder, names


async def raw_partition(dynamodb: Any, table: str, partition: str) -> list[dict[str, Any]]:
    response = await dynamodb.query(
        TableName=table,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": partition}},
        ConsistentRead=True,
    )
    return list(response["Items"])


def model(model_id: str) -> ManagedModel:
    return ManagedModel(
        model_id=model_id,
        model_name=model_id.upper(),
        provider=ModelProvider.OFFLINE,
        provider_name="Offline",
        input_modalities=["text"],
        output_modalities=["text"],
        max_input_tokens=1000,
        max_output_tokens=100,
        input_price_per_million_tokens=1.0,
        output_price_per_million_tokens=2.0,
    )


class TestSessionKeys:
    @pytest.mark.asyncio
    async def test_turns_change_one_item_in_place(self, aws_storage_config: AwsStorageConfig) -> None:
        async with opened(aws_storage_config) as (storage, dynamodb, _, names):
            for minute in range(3):
                await storage.sessions.record_turn(
                    ALICE, SessionId("s-1"), at=START + timedelta(minutes=minute)
                )
            items = await raw_partition(dynamodb, names.sessions, "USER#alice")
        assert [item["SK"]["S"] for item in items] == ["SESSION#s-1"]
        assert items[0]["messageCount"] == {"N": "3"}
        assert items[0]["sortKey"]["S"].startswith("2026-11-01T12:02:00.000000Z#")

    @pytest.mark.asyncio
    async def test_soft_delete_leaves_the_listing_in_the_same_single_write(
        self, aws_storage_config: AwsStorageConfig
    ) -> None:
        async with opened(aws_storage_config) as (storage, dynamodb, recorder, names):
            await storage.sessions.record_turn(ALICE, SessionId("s-1"), at=START)
            recorder.calls.clear()
            assert await storage.sessions.soft_delete(ALICE, SessionId("s-1")) is True
            assert recorder.names() == ["UpdateItem"]
            [item] = await raw_partition(dynamodb, names.sessions, "USER#alice")
            assert "listPk" not in item
            assert item["deleted"] == {"BOOL": True}
            assert (await storage.sessions.list(ALICE)).items == []

    @pytest.mark.asyncio
    async def test_a_late_turn_does_not_bring_a_deleted_session_back(
        self, aws_storage_config: AwsStorageConfig
    ) -> None:
        async with opened(aws_storage_config) as (storage, _, _, _):
            await storage.sessions.record_turn(ALICE, SessionId("s-1"), at=START)
            await storage.sessions.soft_delete(ALICE, SessionId("s-1"))
            late = await storage.sessions.record_turn(
                ALICE, SessionId("s-1"), at=START + timedelta(minutes=1)
            )
            assert (late.deleted, late.message_count) == (True, 2)
            assert (await storage.sessions.list(ALICE)).items == []

    @pytest.mark.asyncio
    async def test_archiving_leaves_the_listing_and_reactivating_returns(
        self, aws_storage_config: AwsStorageConfig
    ) -> None:
        async with opened(aws_storage_config) as (storage, _, _, _):
            await storage.sessions.record_turn(ALICE, SessionId("s-1"), at=START)
            await storage.sessions.update(
                ALICE, SessionId("s-1"), SessionUpdate(status=SessionStatus.ARCHIVED)
            )
            assert (await storage.sessions.list(ALICE)).items == []
            await storage.sessions.update(ALICE, SessionId("s-1"), SessionUpdate(status=SessionStatus.ACTIVE))
            assert [s.session_id for s in (await storage.sessions.list(ALICE)).items] == ["s-1"]

    @pytest.mark.asyncio
    async def test_a_page_is_one_query_on_the_sparse_index(
        self, aws_storage_config: AwsStorageConfig
    ) -> None:
        async with opened(aws_storage_config) as (storage, _, recorder, _):
            for number in range(3):
                await storage.sessions.record_turn(
                    ALICE, SessionId(f"s-{number}"), at=START + timedelta(minutes=number)
                )
            recorder.calls.clear()
            page = await storage.sessions.list(ALICE, limit=2)
            assert recorder.calls == [("Query", "by-last-message")]
            assert [s.session_id for s in page.items] == ["s-2", "s-1"]


class TestMessageIndexes:
    @pytest.mark.asyncio
    async def test_come_from_one_atomic_counter_shared_by_every_client(
        self, aws_storage_config: AwsStorageConfig
    ) -> None:
        async with (
            opened(aws_storage_config) as (first, dynamodb, _, names),
            opened(aws_storage_config) as (second, *_),
        ):
            batches = await asyncio.gather(
                *(
                    handle.messages.append(
                        ALICE,
                        SessionId("s-1"),
                        [MessageDraft(role="user", content=[ContentBlock.of_text(str(n))])],
                    )
                    for n in range(10)
                    for handle in (first, second)
                )
            )
            counter = await dynamodb.get_item(
                TableName=names.messages, Key={"PK": {"S": "SESSION#alice#s-1"}, "SK": {"S": "COUNTER"}}
            )
        assert sorted(message.index for batch in batches for message in batch) == list(range(20))
        assert counter["Item"]["next"] == {"N": "20"}


class TestManagedModelUniqueness:
    @pytest.mark.asyncio
    async def test_the_uniqueness_item_follows_the_model_id(
        self, aws_storage_config: AwsStorageConfig
    ) -> None:
        async with opened(aws_storage_config) as (storage, dynamodb, recorder, names):
            created = await storage.managed_models.create(model("vendor.a"))
            [unique] = await raw_partition(dynamodb, names.models, "MODELID#vendor.a")
            assert unique["modelUuid"] == {"S": created.id}

            await storage.managed_models.update(created.id, ManagedModelUpdate(model_id="vendor.b"))
            assert await raw_partition(dynamodb, names.models, "MODELID#vendor.a") == []
            assert len(await raw_partition(dynamodb, names.models, "MODELID#vendor.b")) == 1

            recorder.calls.clear()
            found = await storage.managed_models.get_by_model_id("vendor.b")
            assert found is not None
            assert found.id == created.id
            assert recorder.names() == ["GetItem"]

            assert await storage.managed_models.delete(created.id) is True
            assert await raw_partition(dynamodb, names.models, "MODELID#vendor.b") == []
            assert await raw_partition(dynamodb, names.models, "MODELS") == []

    @pytest.mark.asyncio
    async def test_the_catalogue_is_listed_by_one_query(self, aws_storage_config: AwsStorageConfig) -> None:
        async with opened(aws_storage_config) as (storage, _, recorder, _):
            for model_id in ("vendor.c", "vendor.a", "vendor.b"):
                await storage.managed_models.create(model(model_id))
            recorder.calls.clear()
            listed = await storage.managed_models.list()
        assert [m.model_id for m in listed] == ["vendor.a", "vendor.b", "vendor.c"]
        assert recorder.names() == ["Query"]


class TestSharedWith:
    @pytest.mark.asyncio
    async def test_each_page_is_one_query_and_one_batch_read(
        self, aws_storage_config: AwsStorageConfig
    ) -> None:
        async with opened(aws_storage_config) as (storage, _, recorder, _):
            for number in range(5):
                assistant = Assistant(
                    assistant_id=AssistantId(f"ast-00000000000{number}"),
                    owner_id=ALICE,
                    name=f"A{number}",
                    visibility=Visibility.SHARED,
                    status=AssistantStatus.COMPLETE,
                )
                await storage.assistants.put(assistant)
                await storage.assistants.add_shares(assistant.assistant_id, ["Bob@Example.com"])
            recorder.calls.clear()
            seen: list[str] = []
            cursor: str | None = None
            pages = 0
            while True:
                page = await storage.assistants.list_shared_with("bob@example.com", limit=2, cursor=cursor)
                seen += [a.assistant_id for a in page.items]
                pages += 1
                cursor = page.next_cursor
                if cursor is None:
                    break
        assert sorted(seen) == [f"ast-00000000000{n}" for n in range(5)]
        assert pages == 3
        assert recorder.names() == ["Query", "BatchGetItem"] * 3


class TestNoScan:
    def test_no_request_path_scans(self) -> None:
        import chat_storage.aws as package

        sources = {path.name: path.read_text() for path in Path(package.__file__).parent.glob("*.py")}
        assert [name for name, source in sources.items() if ".scan(" in source or '"Scan"' in source] == []


class TestCursors:
    @pytest.mark.asyncio
    async def test_another_users_cursor_is_refused_even_when_well_formed(
        self, aws_storage_config: AwsStorageConfig
    ) -> None:
        async with opened(aws_storage_config) as (storage, _, _, _):
            for number in range(3):
                await storage.sessions.record_turn(
                    ALICE, SessionId(f"s-{number}"), at=START + timedelta(minutes=number)
                )
            cursor = (await storage.sessions.list(ALICE, limit=1)).next_cursor
            assert cursor is not None
            forged = decode_cursor(cursor) | {"PK": "USER#bob", "listPk": "USER#bob"}
            with pytest.raises(InvalidInputError):
                await storage.sessions.list(BOB, cursor=cursor)
            with pytest.raises(InvalidInputError):
                await storage.sessions.list(ALICE, cursor=encode_cursor(forged))
            # Rewritten for bob's partition it is valid, and can only ever reach bob's own sessions.
            assert (await storage.sessions.list(BOB, cursor=encode_cursor(forged))).items == []

    @pytest.mark.asyncio
    async def test_a_cursor_from_another_listing_is_refused(
        self, aws_storage_config: AwsStorageConfig
    ) -> None:
        async with opened(aws_storage_config) as (storage, _, _, _):
            drafts = [MessageDraft(role="user", content=[ContentBlock.of_text(str(n))]) for n in range(3)]
            await storage.messages.append(ALICE, SessionId("s-1"), drafts)
            cursor = (await storage.messages.list(ALICE, SessionId("s-1"), limit=1)).next_cursor
            assert cursor is not None
            with pytest.raises(InvalidInputError):
                await storage.messages.list(ALICE, SessionId("s-2"), cursor=cursor)
            with pytest.raises(InvalidInputError):
                await storage.sessions.list(ALICE, cursor=cursor)
            with pytest.raises(InvalidInputError):
                await storage.files.list(ALICE, cursor=cursor)
            with pytest.raises(InvalidInputError):
                await storage.messages.list(
                    ALICE, SessionId("s-1"), cursor=encode_cursor(decode_cursor(cursor) | {"x": "y"})
                )

    @pytest.mark.asyncio
    async def test_a_cursor_of_the_same_partition_but_other_filters_is_refused(
        self, aws_storage_config: AwsStorageConfig
    ) -> None:
        async with opened(aws_storage_config) as (storage, _, _, _):
            for number in range(3):
                await storage.assistants.put(
                    Assistant(assistant_id=AssistantId(f"ast-00000000000{number}"), owner_id=ALICE, name="A")
                )
            complete = frozenset({AssistantStatus.COMPLETE})
            cursor = (await storage.assistants.list_owned(ALICE, statuses=complete, limit=1)).next_cursor
            assert cursor is not None
            assert (
                len((await storage.assistants.list_owned(ALICE, statuses=complete, cursor=cursor)).items) == 2
            )
            with pytest.raises(InvalidInputError):
                await storage.assistants.list_owned(
                    ALICE, statuses=complete | {AssistantStatus.DRAFT}, cursor=cursor
                )
