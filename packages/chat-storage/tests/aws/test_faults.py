"""Faults: a stopped moto server, an unreachable endpoint, injected throttling.

Every operation must raise `UnavailableError` (cause chained) within a bounded time, and a failed
multi-step write must leave nothing half-written behind.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from aiobotocore.awsrequest import AioAWSResponse
from botocore.awsrequest import HTTPHeaders

from chat_core.assistants import Assistant, AssistantStatus
from chat_core.costs import CostRecord, PricingSnapshot, TokenUsage
from chat_core.documents import Document
from chat_core.errors import UnavailableError
from chat_core.files import FileUpload
from chat_core.identity import User
from chat_core.ids import (
    AssistantId,
    DocumentId,
    ManagedModelId,
    SessionId,
    UploadId,
    UserId,
    new_document_id,
    new_upload_id,
)
from chat_core.managed_models import ManagedModel, ModelProvider
from chat_core.messages import ContentBlock, MessageDraft
from chat_core.sessions import SessionUpdate
from chat_core.turns import TurnRecord
from chat_storage.aws import ResourceNames, open_aws_storage, provision
from chat_storage.aws._clients import aws_clients
from chat_storage.aws.storage import aws_storage
from chat_storage.base import Storage
from chat_storage.config import AwsStorageConfig

pytestmark = pytest.mark.aws

BOUND_SECONDS = 10.0
"""Generous: with the timeouts below an operation gives up after about 4 s at worst."""
FAULT_TIMEOUTS: dict[str, Any] = {"connect_timeout": 1.0, "read_timeout": 1.0, "max_attempts": 2}
ALICE = UserId("alice")
SESSION = SessionId("s-1")
ASSISTANT = AssistantId("ast-000000000001")


def draft(text: str) -> MessageDraft:
    return MessageDraft(role="user", content=[ContentBlock.of_text(text)])


def managed_model(model_id: str = "provider.model-1") -> ManagedModel:
    return ManagedModel(
        model_id=model_id,
        model_name="Model One",
        provider=ModelProvider.OFFLINE,
        provider_name="Offline",
        input_modalities=["text"],
        output_modalities=["text"],
        max_input_tokens=1000,
        max_output_tokens=100,
        input_price_per_million_tokens=1.0,
        output_price_per_million_tokens=2.0,
    )


def upload(size: int = 10) -> FileUpload:
    upload_id = new_upload_id()
    return FileUpload(
        upload_id=upload_id,
        user_id=ALICE,
        session_id=SESSION,
        filename="a.txt",
        mime_type="text/plain",
        size_bytes=size,
        storage_key=f"uploads/alice/{upload_id}/a.txt",
    )


def cost(message_id: str = "msg-s-1-1") -> CostRecord:
    return CostRecord.for_turn(
        user_id=ALICE,
        session_id=SESSION,
        message_id=message_id,
        model_id="provider.model-1",
        model_name="Model One",
        provider="offline",
        usage=TokenUsage(input_tokens=1000, output_tokens=500, total_tokens=1500),
        pricing=PricingSnapshot(input_price_per_mtok=3.0, output_price_per_mtok=15.0),
        timestamp=datetime(2026, 11, 5, tzinfo=UTC),
    )


Operation = Callable[[Storage], Awaitable[object]]

EVERY_OPERATION: dict[str, Operation] = {
    "ping": lambda s: s.ping(),
    "sessions.get": lambda s: s.sessions.get(ALICE, SESSION),
    "sessions.list": lambda s: s.sessions.list(ALICE),
    "sessions.update": lambda s: s.sessions.update(ALICE, SESSION, SessionUpdate(title="New")),
    "sessions.record_turn": lambda s: s.sessions.record_turn(ALICE, SESSION, at=datetime.now(UTC)),
    "sessions.soft_delete": lambda s: s.sessions.soft_delete(ALICE, SESSION),
    "messages.append": lambda s: s.messages.append(ALICE, SESSION, [draft("a"), draft("b")]),
    "messages.list": lambda s: s.messages.list(ALICE, SESSION),
    "messages.recent": lambda s: s.messages.recent(ALICE, SESSION, limit=10),
    "turns.record": lambda s: s.turns.record(
        TurnRecord(
            turn_id="t-1",
            user_id=ALICE,
            session_id=SESSION,
            user_message=draft("q"),
            reply=draft("a"),
            at=datetime.now(UTC),
        )
    ),
    "managed_models.get": lambda s: s.managed_models.get(ManagedModelId("m-1")),
    "managed_models.get_by_model_id": lambda s: s.managed_models.get_by_model_id("provider.model-1"),
    "managed_models.list": lambda s: s.managed_models.list(),
    "managed_models.create": lambda s: s.managed_models.create(managed_model("provider.model-2")),
    "managed_models.delete": lambda s: s.managed_models.delete(ManagedModelId("m-1")),
    "assistants.get": lambda s: s.assistants.get(ASSISTANT),
    "assistants.put": lambda s: s.assistants.put(Assistant(assistant_id=ASSISTANT, owner_id=ALICE, name="A")),
    "assistants.delete": lambda s: s.assistants.delete(ASSISTANT),
    "assistants.list_owned": lambda s: s.assistants.list_owned(
        ALICE, statuses=frozenset({AssistantStatus.COMPLETE})
    ),
    "assistants.list_public": lambda s: s.assistants.list_public(),
    "assistants.list_shared_with": lambda s: s.assistants.list_shared_with("bob@example.com"),
    "assistants.add_shares": lambda s: s.assistants.add_shares(ASSISTANT, ["bob@example.com"]),
    "assistants.remove_shares": lambda s: s.assistants.remove_shares(ASSISTANT, ["bob@example.com"]),
    "assistants.get_share": lambda s: s.assistants.get_share(ASSISTANT, "bob@example.com"),
    "assistants.mark_share_interacted": lambda s: s.assistants.mark_share_interacted(
        ASSISTANT, "bob@example.com"
    ),
    "files.reserve": lambda s: s.files.reserve(upload(), quota_bytes=1000),
    "files.get": lambda s: s.files.get(ALICE, UploadId("u-1")),
    "files.mark_ready": lambda s: s.files.mark_ready(ALICE, UploadId("u-1")),
    "files.mark_failed": lambda s: s.files.mark_failed(ALICE, UploadId("u-1")),
    "files.delete": lambda s: s.files.delete(ALICE, UploadId("u-1")),
    "files.list": lambda s: s.files.list(ALICE),
    "files.quota": lambda s: s.files.quota(ALICE),
    "documents.create": lambda s: s.documents.create(
        Document(
            document_id=new_document_id(),
            assistant_id=ASSISTANT,
            filename="d.txt",
            content_type="text/plain",
            size_bytes=5,
            storage_key="docs/d.txt",
        )
    ),
    "documents.get": lambda s: s.documents.get(ASSISTANT, DocumentId("DOC-1")),
    "documents.list": lambda s: s.documents.list(ASSISTANT),
    "documents.delete_all": lambda s: s.documents.delete_all(ASSISTANT),
    "costs.record": lambda s: s.costs.record(cost()),
    "costs.summary": lambda s: s.costs.summary(ALICE, "2026-11"),
    "users.remember": lambda s: s.users.remember(User(user_id=ALICE, email="alice@example.com")),
    "quotas.list_tiers": lambda s: s.quotas.list_tiers(),
    "quotas.list_overrides": lambda s: s.quotas.list_overrides(user_id=ALICE),
    "quotas.list_events": lambda s: s.quotas.list_events(user_id=ALICE),
    "usage.usage": lambda s: s.usage.usage(ALICE, at=datetime.now(UTC)),
    "usage.reserve": lambda s: s.usage.reserve(
        ALICE,
        "r-1",
        1.0,
        at=datetime.now(UTC),
        expires_at=datetime.now(UTC),
        daily_limit=None,
        monthly_limit=5.0,
    ),
    "usage.rollup": lambda s: s.usage.rollup("2026-11"),
    "usage.top_users": lambda s: s.usage.top_users("2026-11", limit=5),
    "rate_limits.incr": lambda s: s.rate_limits.incr("turn:alice", 60),
    "rate_limits.add_to_window": lambda s: s.rate_limits.add_to_window("turn:alice", 100, 60),
    "users.search": lambda s: s.users.search("ali"),
    "blobs.put": lambda s: s.blobs.put("k/a.txt", b"x", content_type="text/plain"),
    "blobs.get": lambda s: s.blobs.get("k/a.txt"),
    "blobs.head": lambda s: s.blobs.head("k/a.txt"),
    "blobs.delete": lambda s: s.blobs.delete("k/a.txt"),
    "blobs.delete_prefix": lambda s: s.blobs.delete_prefix("k/"),
}
"""Every port method that talks to AWS (presigning is local signing and needs no connection)."""


async def assert_every_operation_unavailable(storage: Storage, *, bound: float = BOUND_SECONDS) -> None:
    """Run every operation concurrently; each must raise `UnavailableError` within `bound` seconds."""

    async def timed(operation: Operation) -> tuple[BaseException | object, float]:
        started = time.monotonic()
        try:
            return await operation(storage), time.monotonic() - started
        except Exception as exc:  # JUSTIFICATION: the outcome is inspected below, per operation.
            return exc, time.monotonic() - started

    outcomes = await asyncio.gather(*(timed(operation) for operation in EVERY_OPERATION.values()))
    wrong = {
        name: repr(outcome)
        for name, (outcome, _) in zip(EVERY_OPERATION, outcomes, strict=True)
        if not isinstance(outcome, UnavailableError) or outcome.__cause__ is None
    }
    slow = {
        name: seconds for name, (_, seconds) in zip(EVERY_OPERATION, outcomes, strict=True) if seconds > bound
    }
    assert wrong == {}
    assert slow == {}


@asynccontextmanager
async def storage_and_clients(config: AwsStorageConfig) -> AsyncIterator[tuple[Storage, Any, Any]]:
    async with aws_clients(config) as (dynamodb, s3):
        yield aws_storage(dynamodb, s3, ResourceNames(config.resource_prefix)), dynamodb, s3


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers (a hung endpoint)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


class _Injector:
    """A before-send hook that answers chosen operations with an error instead of sending them."""

    def __init__(
        self, *targets: str, status: int = 400, code: str = "ProvisionedThroughputExceededException"
    ) -> None:
        self.targets = set(targets)
        self.status = status
        self.code = code
        self.calls: Counter[str] = Counter()
        self.armed = True

    def __call__(self, request: Any, event_name: str, **_: Any) -> AioAWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        if not self.armed or (self.targets and operation not in self.targets):
            return None
        self.calls[operation] += 1
        if event_name.startswith("before-send.s3"):
            body = f"<Error><Code>{self.code}</Code><Message>injected</Message></Error>".encode()
            content_type = "application/xml"
        else:
            body = json.dumps(
                {"__type": f"com.amazonaws.dynamodb.v20120810#{self.code}", "message": "injected"}
            ).encode()
            content_type = "application/x-amz-json-1.0"
        headers = HTTPHeaders()
        headers["Content-Type"] = content_type
        return AioAWSResponse(request.url, self.status, headers, _Body(body))


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    async def read(self) -> bytes:
        return self._data


class TestStoppedServer:
    @pytest.mark.asyncio
    async def test_every_operation_is_unavailable_once_the_server_stops(
        self, moto_server: str, spare_moto_server: Any, aws_config_factory: Callable[..., AwsStorageConfig]
    ) -> None:
        config = aws_config_factory(spare_moto_server.endpoint_url, **FAULT_TIMEOUTS)
        await provision(config.model_copy(update={"read_timeout": 30.0}))  # a loaded machine's moto is slow
        async with open_aws_storage(config) as storage:
            await storage.sessions.record_turn(ALICE, SESSION, at=datetime.now(UTC))
            await storage.messages.append(ALICE, SESSION, [draft("before")])

            spare_moto_server.stop()  # the socket stays open: requests hang until the read timeout
            await assert_every_operation_unavailable(storage)
            spare_moto_server.stop(close_socket=True)  # now connections are refused
            await assert_every_operation_unavailable(storage)

        # moto keeps its state per process, so the session-wide server shows what the spare one holds.
        async with open_aws_storage(config.model_copy(update={"endpoint_url": moto_server})) as after:
            session = await after.sessions.get(ALICE, SESSION)
            assert session is not None
            assert (session.message_count, session.title, session.deleted) == (1, "New Conversation", False)
            assert [message.index for message in (await after.messages.list(ALICE, SESSION)).items] == [0]
            assert await after.managed_models.list() == []
            assert (await after.files.quota(ALICE)).used_bytes == 0
            assert (await after.costs.summary(ALICE, "2026-11")).total_requests == 0


class TestUnreachableEndpoint:
    @pytest.mark.asyncio
    async def test_a_refused_connection_is_unavailable(
        self, closed_port: int, aws_config_factory: Callable[..., AwsStorageConfig]
    ) -> None:
        config = aws_config_factory(f"http://127.0.0.1:{closed_port}", **FAULT_TIMEOUTS)
        async with open_aws_storage(config) as storage:
            await assert_every_operation_unavailable(storage)

    @pytest.mark.asyncio
    async def test_an_endpoint_that_never_answers_is_unavailable(
        self, silent_server: str, aws_config_factory: Callable[..., AwsStorageConfig]
    ) -> None:
        config = aws_config_factory(silent_server, **FAULT_TIMEOUTS)
        async with open_aws_storage(config) as storage:
            await assert_every_operation_unavailable(storage)

    @pytest.mark.asyncio
    async def test_one_deadline_bounds_every_call_across_its_attempts(
        self, silent_server: str, aws_config_factory: Callable[..., AwsStorageConfig]
    ) -> None:
        """Timeouts bound each attempt, the deadline their sum: 3 x 30 s attempts give up after 1.5 s."""
        config = aws_config_factory(
            silent_server, connect_timeout=2.0, read_timeout=30.0, max_attempts=3, deadline=1.5
        )
        async with open_aws_storage(config) as storage:
            await assert_every_operation_unavailable(storage, bound=3.0)
            with pytest.raises(UnavailableError, match="did not answer in time"):
                await storage.sessions.get(ALICE, SESSION)

    @pytest.mark.asyncio
    async def test_provisioning_an_unreachable_endpoint_is_unavailable(
        self, closed_port: int, aws_config_factory: Callable[..., AwsStorageConfig]
    ) -> None:
        with pytest.raises(UnavailableError):
            await provision(aws_config_factory(f"http://127.0.0.1:{closed_port}", **FAULT_TIMEOUTS))


class TestThrottling:
    @pytest.mark.asyncio
    async def test_every_operation_is_unavailable_after_bounded_retries(
        self, aws_storage_config: AwsStorageConfig
    ) -> None:
        config = aws_storage_config.model_copy(update=FAULT_TIMEOUTS)
        throttle_dynamodb = _Injector()
        throttle_s3 = _Injector(status=503, code="SlowDown")
        async with storage_and_clients(config) as (storage, dynamodb, s3):
            dynamodb.meta.events.register("before-send.dynamodb", throttle_dynamodb)
            s3.meta.events.register("before-send.s3", throttle_s3)
            await assert_every_operation_unavailable(storage)
        calls = throttle_dynamodb.calls + throttle_s3.calls
        assert calls
        assert all(count % config.max_attempts == 0 for count in calls.values()), calls

    @pytest.mark.asyncio
    async def test_an_append_whose_write_is_throttled_leaves_no_message(
        self, aws_storage_config: AwsStorageConfig
    ) -> None:
        injector = _Injector("TransactWriteItems")
        async with storage_and_clients(aws_storage_config) as (storage, dynamodb, _):
            await storage.messages.append(ALICE, SESSION, [draft("first")])
            dynamodb.meta.events.register("before-send.dynamodb", injector)
            with pytest.raises(UnavailableError):
                await storage.messages.append(ALICE, SESSION, [draft("lost question"), draft("lost answer")])
            injector.armed = False
            later = await storage.messages.append(ALICE, SESSION, [draft("second"), draft("third")])
            listed = (await storage.messages.list(ALICE, SESSION)).items
        texts = [message.content[0].text for message in listed]
        assert texts == ["first", "second", "third"]
        assert [message.index for message in listed] == [0, *(message.index for message in later)]
        assert later[0].index < later[1].index

    @pytest.mark.asyncio
    async def test_a_throttled_reservation_reserves_nothing(
        self, aws_storage_config: AwsStorageConfig
    ) -> None:
        injector = _Injector("TransactWriteItems")
        pending = upload(size=100)
        async with storage_and_clients(aws_storage_config) as (storage, dynamodb, _):
            dynamodb.meta.events.register("before-send.dynamodb", injector)
            with pytest.raises(UnavailableError):
                await storage.files.reserve(pending, quota_bytes=1000)
            injector.armed = False
            assert await storage.files.get(ALICE, pending.upload_id) is None
            assert (await storage.files.quota(ALICE)).used_bytes == 0

    @pytest.mark.asyncio
    async def test_a_throttled_cost_record_counts_once_when_retried(
        self, aws_storage_config: AwsStorageConfig
    ) -> None:
        injector = _Injector("TransactWriteItems")
        entry = cost("msg-s-1-7")
        async with storage_and_clients(aws_storage_config) as (storage, dynamodb, _):
            dynamodb.meta.events.register("before-send.dynamodb", injector)
            with pytest.raises(UnavailableError):
                await storage.costs.record(entry)
            injector.armed = False
            assert (await storage.costs.summary(ALICE, "2026-11")).total_requests == 0
            assert await storage.costs.record(entry) is True
            assert await storage.costs.record(entry) is False
            summary = await storage.costs.summary(ALICE, "2026-11")
        assert (summary.total_requests, summary.total_cost) == (1, entry.cost.total_cost)

    @pytest.mark.asyncio
    async def test_a_throttled_model_create_leaves_neither_item(
        self, aws_storage_config: AwsStorageConfig
    ) -> None:
        injector = _Injector("TransactWriteItems")
        model = managed_model()
        async with storage_and_clients(aws_storage_config) as (storage, dynamodb, _):
            dynamodb.meta.events.register("before-send.dynamodb", injector)
            with pytest.raises(UnavailableError):
                await storage.managed_models.create(model)
            injector.armed = False
            assert await storage.managed_models.get(model.id) is None
            assert await storage.managed_models.get_by_model_id(model.model_id) is None
            assert await storage.managed_models.create(model) == model

    @pytest.mark.asyncio
    async def test_a_throttled_turn_changes_nothing(self, aws_storage_config: AwsStorageConfig) -> None:
        injector = _Injector("UpdateItem")
        async with storage_and_clients(aws_storage_config) as (storage, dynamodb, _):
            before = await storage.sessions.record_turn(ALICE, SESSION, at=datetime.now(UTC))
            dynamodb.meta.events.register("before-send.dynamodb", injector)
            with pytest.raises(UnavailableError):
                await storage.sessions.record_turn(
                    ALICE, SESSION, at=datetime.now(UTC), preferences={"lastModel": "x"}
                )
            injector.armed = False
            assert await storage.sessions.get(ALICE, SESSION) == before

    @pytest.mark.asyncio
    async def test_a_throttled_upload_stores_no_object(self, aws_storage_config: AwsStorageConfig) -> None:
        injector = _Injector("PutObject", status=503, code="SlowDown")
        async with storage_and_clients(aws_storage_config) as (storage, _, s3):
            s3.meta.events.register("before-send.s3", injector)
            with pytest.raises(UnavailableError):
                await storage.blobs.put("k/a.txt", b"data", content_type="text/plain")
            injector.armed = False
            assert await storage.blobs.head("k/a.txt") is None
