"""A process killed (SIGKILL) at any step of storing a turn on DynamoDB leaves the whole turn or none of it.

The steps of `DynamoTurnRepository.record` are one read and one `TransactWriteItems`, which DynamoDB
applies whole or not at all. One worker process imports everything once and forks a child per kill
point; the child kills itself from a botocore event hook: before the read is sent, before the
transaction is sent, once the transaction's answer arrived (applied, but the caller never hears of
it), or after the turn returned. This test then reads each session over HTTP from the moto server:
the turn is there whole or not at all, and recording it again leaves it there exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chat_core.costs import PricingSnapshot, TokenUsage, period_of
from chat_core.ids import SessionId, UserId
from chat_core.messages import MessageDraft
from chat_core.turns import TurnCharge, TurnRecord
from chat_storage import AwsStorageConfig, Storage, open_storage

ALICE = UserId("alice")
AT = datetime(2025, 6, 1, tzinfo=UTC)
KILL_POINTS = (
    "before-send.dynamodb.BatchGetItem",
    "before-send.dynamodb.TransactWriteItems",
    "after-call.dynamodb.TransactWriteItems",
    "returned",
)

WORKER = """
import asyncio, json, os, signal, sys
from pydantic import SecretStr
from chat_storage.aws._clients import aws_clients
from chat_storage.aws._tables import ResourceNames
from chat_storage.aws.storage import aws_storage
from chat_storage.config import AwsStorageConfig
from test_turn_crash import KILL_POINTS, make_turn

def die(**kwargs: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)

async def run(config: AwsStorageConfig, session_id: str, existing: bool, kill_point: str) -> None:
    async with aws_clients(config) as (dynamodb, s3):
        storage = aws_storage(dynamodb, s3, ResourceNames(config.resource_prefix))
        if existing:
            await storage.turns.record(make_turn("t-0", session_id))
        if kill_point != "returned":
            dynamodb.meta.events.register(kill_point, die)
        await storage.turns.record(make_turn("t-1", session_id))
        print(json.dumps({"session": session_id, "returned": True}), flush=True)
        die()

endpoint, prefix = sys.argv[1], sys.argv[2]
config = AwsStorageConfig(
    endpoint_url=endpoint, region="us-east-1", resource_prefix=prefix, connect_timeout=3.0,
    read_timeout=30.0, max_attempts=2, access_key_id=SecretStr("testing"),
    secret_access_key=SecretStr("testing"),
)

async def warm_up() -> None:  # botocore's service models, parsed once before forking (no threads remain)
    async with aws_clients(config):
        pass

asyncio.run(warm_up())
for existing in (False, True):
    for number, kill_point in enumerate(KILL_POINTS):
        session_id = f"{'existing' if existing else 'new'}-{number}"
        child = os.fork()
        if child == 0:
            asyncio.run(run(config, session_id, existing, kill_point))
            os._exit(3)
        _, status = os.waitpid(child, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
        print(json.dumps({"session": session_id, "existing": existing, "point": kill_point}), flush=True)
"""


def make_turn(turn_id: str, session_id: str) -> TurnRecord:
    """The turn the worker records (and this test records again)."""
    return TurnRecord(
        turn_id=turn_id,
        user_id=ALICE,
        session_id=SessionId(session_id),
        user_message=MessageDraft.model_validate(
            {"role": "user", "content": [{"type": "text", "text": "Q"}]}
        ),
        reply=MessageDraft.model_validate({"role": "assistant", "content": [{"type": "text", "text": "A"}]}),
        at=AT,
        preferences={"lastModel": "model-a"},
        charge=TurnCharge(
            model_id=f"model-{session_id}",
            model_name="Model",
            provider=None,
            usage=TokenUsage(input_tokens=10, output_tokens=5, total_tokens=15),
            pricing=PricingSnapshot(input_price_per_mtok=1.0, output_price_per_mtok=2.0),
        ),
    )


async def stored_turns(storage: Storage, session_id: SessionId) -> int:
    """How many turns the session holds, after checking messages, counter and costs all agree."""
    messages = (await storage.messages.list(ALICE, session_id, limit=100)).items
    session = await storage.sessions.get(ALICE, session_id)
    summary = await storage.costs.summary(ALICE, period_of(AT))
    requests = sum(model.request_count for model in summary.models if model.model_id == f"model-{session_id}")
    turns = len(messages) // 2
    assert [m.index for m in messages] == list(range(2 * turns))
    assert [m.role for m in messages] == ["user", "assistant"] * turns
    assert (session.message_count if session else 0) == turns
    assert requests == turns
    return turns


@pytest.mark.aws
@pytest.mark.asyncio
async def test_a_turn_killed_at_any_step_is_stored_whole_or_not_at_all(
    aws_storage_config: AwsStorageConfig,
) -> None:
    assert aws_storage_config.endpoint_url is not None
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WORKER,
        aws_storage_config.endpoint_url,
        aws_storage_config.resource_prefix,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=os.environ | {"PYTHONPATH": str(Path(__file__).parent)},
    )
    stdout, stderr = await asyncio.wait_for(worker.communicate(), timeout=300)
    assert worker.returncode == 0, stderr.decode()
    lines = [json.loads(line) for line in stdout.decode().splitlines()]
    returned = {line["session"] for line in lines if "returned" in line}
    points = [line for line in lines if "point" in line]
    assert [point["point"] for point in points] == list(KILL_POINTS) * 2
    async with open_storage(aws_storage_config) as storage:
        for point in points:
            session_id = SessionId(point["session"])
            before = 1 if point["existing"] else 0
            found = await stored_turns(storage, session_id)
            applied = point["point"] in ("after-call.dynamodb.TransactWriteItems", "returned")
            assert found == before + applied, point
            assert (point["session"] in returned) is (point["point"] == "returned")
            retried = await storage.turns.record(make_turn("t-1", session_id))
            assert retried.recorded is not applied
            assert await stored_turns(storage, session_id) == before + 1
