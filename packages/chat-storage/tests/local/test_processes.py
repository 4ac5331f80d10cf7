"""Two OS processes (like app-api and inference-api) writing to one data directory at once."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from chat_core.ids import SessionId, UserId
from chat_storage import LocalStorageConfig, open_storage

TURNS_PER_PROCESS = 60

WORKER = """
import asyncio, sys
from datetime import UTC, datetime
from pathlib import Path
from chat_core.costs import CostRecord, PricingSnapshot, TokenUsage
from chat_core.files import FileUpload
from chat_core.messages import MessageDraft
from chat_storage import LocalStorageConfig, open_storage

async def main(data_dir: str, worker: int, turns: int) -> None:
    async with open_storage(LocalStorageConfig(data_dir=Path(data_dir))) as storage:
        for n in range(turns):
            drafts = [
                MessageDraft.model_validate({"role": role, "content": [{"type": "text", "text": f"{worker}-{n}"}]})
                for role in ("user", "assistant")
            ]
            await storage.messages.append("alice", "shared", drafts)
            await storage.sessions.record_turn("alice", "shared", at=datetime.now(UTC))
            await storage.costs.record(
                CostRecord.for_turn(
                    user_id="alice", session_id="shared", message_id=f"msg-{worker}-{n}", model_id="m",
                    model_name="M", provider=None, usage=TokenUsage(input_tokens=10, output_tokens=1),
                    pricing=PricingSnapshot(input_price_per_mtok=1.0, output_price_per_mtok=1.0),
                )
            )
            await storage.files.reserve(
                FileUpload(
                    upload_id=f"up-{worker}-{n}", user_id="alice", session_id="shared", filename="f",
                    mime_type="text/plain", size_bytes=10, storage_key=f"k/{worker}/{n}",
                ),
                quota_bytes=10**9,
            )

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""


@pytest.mark.asyncio
async def test_two_processes_share_one_data_directory_without_losing_writes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WORKER,
            str(data_dir),
            str(worker),
            str(TURNS_PER_PROCESS),
            stderr=asyncio.subprocess.PIPE,
        )
        for worker in range(2)
    ]
    for process in workers:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
        assert process.returncode == 0, stderr.decode()

    total = 2 * TURNS_PER_PROCESS
    async with open_storage(LocalStorageConfig(data_dir=data_dir)) as storage:
        session = await storage.sessions.get(UserId("alice"), SessionId("shared"))
        assert session is not None
        assert session.message_count == total
        page = await storage.messages.list(UserId("alice"), SessionId("shared"), limit=1000)
        assert [m.index for m in page.items] == list(range(2 * total))
        texts = [m.content[0].text for m in page.items]
        assert all(texts[i] == texts[i + 1] for i in range(0, 2 * total, 2))
        assert len(set(texts)) == total
        summary = await storage.costs.summary(UserId("alice"), session.created_at.strftime("%Y-%m"))
        assert summary.total_requests == total
        quota = await storage.files.quota(UserId("alice"))
        assert (quota.used_bytes, quota.file_count) == (10 * total, total)
