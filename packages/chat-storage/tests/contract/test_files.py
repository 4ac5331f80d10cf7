from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest
import pytest_asyncio

from chat_core.errors import ConflictError, NotFoundError, QuotaExceededError
from chat_core.files import FileStatus, FileUpload, UserFileQuota
from chat_core.ids import SessionId, UploadId, UserId
from chat_storage import Storage

ALICE = UserId("alice")
BOB = UserId("bob")
QUOTA = 1_000
BASE = datetime(2025, 6, 1, tzinfo=UTC)


def make_upload(
    number: int,
    *,
    user_id: UserId = ALICE,
    size_bytes: int = 100,
    session_id: str = "s-1",
    mime_type: str = "text/plain",
) -> FileUpload:
    upload_id = UploadId(f"up-{number:04d}")
    return FileUpload(
        upload_id=upload_id,
        user_id=user_id,
        session_id=SessionId(session_id),
        filename=f"file-{number}.txt",
        mime_type=mime_type,
        size_bytes=size_bytes,
        storage_key=f"user-files/{user_id}/{session_id}/{upload_id}/file-{number}.txt",
        created_at=BASE + timedelta(minutes=number),
    )


class TestReserve:
    @pytest.mark.asyncio
    async def test_creates_a_pending_record_and_counts_it(self, storage: Storage) -> None:
        reserved = await storage.files.reserve(make_upload(1, size_bytes=300), quota_bytes=QUOTA)
        assert reserved.status is FileStatus.PENDING
        assert await storage.files.get(ALICE, reserved.upload_id) == reserved
        assert await storage.files.quota(ALICE) == UserFileQuota(used_bytes=300, file_count=1)

    @pytest.mark.asyncio
    async def test_over_quota_is_refused_and_nothing_is_written(self, storage: Storage) -> None:
        await storage.files.reserve(make_upload(1, size_bytes=800), quota_bytes=QUOTA)
        with pytest.raises(QuotaExceededError) as caught:
            await storage.files.reserve(make_upload(2, size_bytes=201), quota_bytes=QUOTA)
        assert caught.value.detail == {"currentUsage": 800, "maxAllowed": QUOTA, "requiredSpace": 201}
        assert await storage.files.get(ALICE, UploadId("up-0002")) is None
        assert await storage.files.quota(ALICE) == UserFileQuota(used_bytes=800, file_count=1)

    @pytest.mark.asyncio
    async def test_exactly_filling_the_quota_is_allowed(self, storage: Storage) -> None:
        await storage.files.reserve(make_upload(1, size_bytes=QUOTA), quota_bytes=QUOTA)
        assert (await storage.files.quota(ALICE)).used_bytes == QUOTA

    @pytest.mark.asyncio
    async def test_a_duplicate_upload_id_is_a_conflict(self, storage: Storage) -> None:
        await storage.files.reserve(make_upload(1), quota_bytes=QUOTA)
        with pytest.raises(ConflictError):
            await storage.files.reserve(make_upload(1), quota_bytes=QUOTA)
        assert await storage.files.quota(ALICE) == UserFileQuota(used_bytes=100, file_count=1)

    @pytest.mark.asyncio
    async def test_quotas_are_per_user(self, storage: Storage) -> None:
        await storage.files.reserve(make_upload(1, size_bytes=QUOTA), quota_bytes=QUOTA)
        await storage.files.reserve(make_upload(2, user_id=BOB, size_bytes=QUOTA), quota_bytes=QUOTA)
        assert await storage.files.get(BOB, UploadId("up-0001")) is None
        assert await storage.files.quota(BOB) == UserFileQuota(used_bytes=QUOTA, file_count=1)


class TestTransitions:
    @pytest.mark.asyncio
    async def test_mark_ready_once(self, storage: Storage) -> None:
        await storage.files.reserve(make_upload(1), quota_bytes=QUOTA)
        ready = await storage.files.mark_ready(ALICE, UploadId("up-0001"))
        assert ready.status is FileStatus.READY
        assert await storage.files.get(ALICE, UploadId("up-0001")) == ready
        with pytest.raises(ConflictError):
            await storage.files.mark_ready(ALICE, UploadId("up-0001"))
        with pytest.raises(ConflictError):
            await storage.files.mark_failed(ALICE, UploadId("up-0001"))
        assert await storage.files.quota(ALICE) == UserFileQuota(used_bytes=100, file_count=1)

    @pytest.mark.asyncio
    async def test_mark_failed_releases_the_bytes(self, storage: Storage) -> None:
        await storage.files.reserve(make_upload(1, size_bytes=400), quota_bytes=QUOTA)
        failed = await storage.files.mark_failed(ALICE, UploadId("up-0001"))
        assert failed.status is FileStatus.FAILED
        assert await storage.files.quota(ALICE) == UserFileQuota(used_bytes=0, file_count=0)
        with pytest.raises(ConflictError):
            await storage.files.mark_ready(ALICE, UploadId("up-0001"))

    @pytest.mark.asyncio
    async def test_missing_or_foreign_file_is_not_found(self, storage: Storage) -> None:
        await storage.files.reserve(make_upload(1), quota_bytes=QUOTA)
        with pytest.raises(NotFoundError):
            await storage.files.mark_ready(BOB, UploadId("up-0001"))
        with pytest.raises(NotFoundError):
            await storage.files.mark_failed(ALICE, UploadId("up-9999"))
        record = await storage.files.get(ALICE, UploadId("up-0001"))
        assert record is not None
        assert record.status is FileStatus.PENDING


class TestDelete:
    @pytest.mark.asyncio
    async def test_returns_the_record_and_releases_its_bytes(self, storage: Storage) -> None:
        await storage.files.reserve(make_upload(1, size_bytes=100), quota_bytes=QUOTA)
        await storage.files.reserve(make_upload(2, size_bytes=250), quota_bytes=QUOTA)
        await storage.files.mark_ready(ALICE, UploadId("up-0002"))
        removed = await storage.files.delete(ALICE, UploadId("up-0002"))
        assert removed is not None
        assert (removed.upload_id, removed.status) == ("up-0002", FileStatus.READY)
        assert await storage.files.get(ALICE, UploadId("up-0002")) is None
        assert await storage.files.quota(ALICE) == UserFileQuota(used_bytes=100, file_count=1)

    @pytest.mark.asyncio
    async def test_a_failed_file_is_not_released_twice(self, storage: Storage) -> None:
        await storage.files.reserve(make_upload(1, size_bytes=100), quota_bytes=QUOTA)
        await storage.files.reserve(make_upload(2, size_bytes=300), quota_bytes=QUOTA)
        await storage.files.mark_failed(ALICE, UploadId("up-0002"))
        await storage.files.delete(ALICE, UploadId("up-0002"))
        assert await storage.files.quota(ALICE) == UserFileQuota(used_bytes=100, file_count=1)

    @pytest.mark.asyncio
    async def test_missing_or_foreign_is_none(self, storage: Storage) -> None:
        await storage.files.reserve(make_upload(1), quota_bytes=QUOTA)
        assert await storage.files.delete(BOB, UploadId("up-0001")) is None
        assert await storage.files.delete(ALICE, UploadId("up-9999")) is None
        assert await storage.files.quota(ALICE) == UserFileQuota(used_bytes=100, file_count=1)


async def listed(
    storage: Storage,
    *,
    limit: int = 2,
    session_id: str | None = None,
    status: Literal["ready", "any"] = "ready",
    sort_by: Literal["date", "size", "type"] = "date",
    sort_order: Literal["asc", "desc"] = "desc",
) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(100):
        page = await storage.files.list(
            ALICE,
            session_id=SessionId(session_id) if session_id else None,
            status=status,
            limit=limit,
            cursor=cursor,
            sort_by=sort_by,
            sort_order=sort_order,
        )
        seen += [upload.upload_id for upload in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("pagination did not end")


class TestList:
    @pytest_asyncio.fixture
    async def five_files(self, storage: Storage) -> Storage:
        # number: (size, session, type, ready)
        specs = {
            1: (500, "s-1", "text/plain", True),
            2: (100, "s-2", "image/png", True),
            3: (300, "s-1", "application/pdf", False),
            4: (200, "s-1", "text/csv", True),
            5: (400, "s-2", "image/jpeg", True),
        }
        for number, (size, session_id, mime_type, ready) in specs.items():
            upload = make_upload(number, size_bytes=size, session_id=session_id, mime_type=mime_type)
            await storage.files.reserve(upload, quota_bytes=10_000)
            if ready:
                await storage.files.mark_ready(ALICE, upload.upload_id)
        await storage.files.reserve(make_upload(9, user_id=BOB), quota_bytes=10_000)
        await storage.files.mark_ready(BOB, UploadId("up-0009"))
        return storage

    @pytest.mark.asyncio
    async def test_ready_files_newest_first_by_default(self, five_files: Storage) -> None:
        assert await listed(five_files) == ["up-0005", "up-0004", "up-0002", "up-0001"]

    @pytest.mark.asyncio
    async def test_any_status_includes_pending(self, five_files: Storage) -> None:
        assert await listed(five_files, status="any", sort_order="asc") == [
            "up-0001",
            "up-0002",
            "up-0003",
            "up-0004",
            "up-0005",
        ]

    @pytest.mark.asyncio
    async def test_one_session(self, five_files: Storage) -> None:
        assert await listed(five_files, session_id="s-1", status="any") == ["up-0004", "up-0003", "up-0001"]

    @pytest.mark.asyncio
    async def test_by_size(self, five_files: Storage) -> None:
        assert await listed(five_files, sort_by="size", sort_order="asc") == [
            "up-0002",
            "up-0004",
            "up-0005",
            "up-0001",
        ]
        assert await listed(five_files, sort_by="size", limit=3) == [
            "up-0001",
            "up-0005",
            "up-0004",
            "up-0002",
        ]

    @pytest.mark.asyncio
    async def test_by_type(self, five_files: Storage) -> None:
        assert await listed(five_files, sort_by="type", sort_order="asc", status="any") == [
            "up-0003",
            "up-0005",
            "up-0002",
            "up-0004",
            "up-0001",
        ]
