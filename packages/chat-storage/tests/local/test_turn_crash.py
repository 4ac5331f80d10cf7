"""A process killed (SIGKILL) at any statement of a turn's transaction leaves the whole turn or none of it.

One worker process imports everything once, then forks a child per kill point. The child opens the
data directory, and kills itself when its writer connection starts the k-th statement of the turn's
transaction (SQLite's trace callback runs on the writer thread just before each statement), or right
after the turn returned. This test then opens each directory: the turn is there whole or not at all,
and recording it again (what a retry does) leaves it there exactly once.
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
from chat_storage import LocalStorageConfig, Storage, open_storage

ALICE = UserId("alice")
S1 = SessionId("s-1")
AT = datetime(2025, 6, 1, tzinfo=UTC)

WORKER = """
import asyncio, json, os, signal, sys
from pathlib import Path
from chat_storage import LocalStorageConfig, open_storage
from test_turn_crash import make_turn

async def run(data_dir: Path, existing: bool, kill_at: int) -> None:
    async with open_storage(LocalStorageConfig(data_dir=data_dir)) as storage:
        if existing:
            await storage.turns.record(make_turn("t-0"))
        statements = 0

        def trace(sql: str) -> None:
            nonlocal statements
            statements += 1
            if statements == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

        storage.turns._db._writer.set_trace_callback(trace)
        await storage.turns.record(make_turn("t-1"))
        (data_dir / "returned").touch()
        os.kill(os.getpid(), signal.SIGKILL)

base = Path(sys.argv[1])
for existing in (False, True):
    for kill_at in range(1, 50):
        data_dir = base / f"{'existing' if existing else 'new'}-{kill_at}"
        child = os.fork()
        if child == 0:
            asyncio.run(run(data_dir, existing, kill_at))
            os._exit(3)
        _, status = os.waitpid(child, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
        returned = (data_dir / "returned").exists()
        print(json.dumps({"dir": str(data_dir), "existing": existing, "returned": returned}), flush=True)
        if returned:
            break
"""


def make_turn(turn_id: str) -> TurnRecord:
    """The turn the worker records (and this test records again)."""
    return TurnRecord(
        turn_id=turn_id,
        user_id=ALICE,
        session_id=S1,
        user_message=MessageDraft.model_validate(
            {"role": "user", "content": [{"type": "text", "text": "Q"}]}
        ),
        reply=MessageDraft.model_validate({"role": "assistant", "content": [{"type": "text", "text": "A"}]}),
        at=AT,
        preferences={"lastModel": "model-a"},
        charge=TurnCharge(
            model_id="model-a",
            model_name="Model A",
            provider=None,
            usage=TokenUsage(input_tokens=10, output_tokens=5, total_tokens=15),
            pricing=PricingSnapshot(input_price_per_mtok=1.0, output_price_per_mtok=2.0),
        ),
    )


async def stored_turns(storage: Storage) -> int:
    """How many turns the session holds, after checking messages, counter and costs all agree."""
    messages = (await storage.messages.list(ALICE, S1, limit=100)).items
    session = await storage.sessions.get(ALICE, S1)
    requests = (await storage.costs.summary(ALICE, period_of(AT))).total_requests
    turns = len(messages) // 2
    assert [m.index for m in messages] == list(range(2 * turns))
    assert [m.role for m in messages] == ["user", "assistant"] * turns
    assert (session.message_count if session else 0) == turns
    assert requests == turns
    return turns


@pytest.mark.asyncio
async def test_a_turn_killed_at_any_statement_is_stored_whole_or_not_at_all(tmp_path: Path) -> None:
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WORKER,
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=os.environ | {"PYTHONPATH": str(Path(__file__).parent)},
    )
    stdout, stderr = await asyncio.wait_for(worker.communicate(), timeout=300)
    assert worker.returncode == 0, stderr.decode()
    outcomes = []
    for line in stdout.decode().splitlines():
        point = json.loads(line)
        before = 1 if point["existing"] else 0
        async with open_storage(LocalStorageConfig(data_dir=Path(point["dir"]))) as storage:
            found = await stored_turns(storage)
            assert found in (before, before + 1), point
            retried = await storage.turns.record(make_turn("t-1"))
            assert retried.recorded is (found == before)
            assert await stored_turns(storage) == before + 1
        outcomes.append((point["existing"], found - before, point["returned"]))
    for existing in (False, True):
        kills = [(stored, returned) for mode, stored, returned in outcomes if mode is existing]
        assert kills[-1] == (1, True), "the last child returned from the turn"
        assert all(kill == (0, False) for kill in kills[:-1]), "killed before its commit: nothing"
        assert len(kills) >= 8, "every statement of the transaction was a kill point"
