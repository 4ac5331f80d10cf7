from __future__ import annotations

import pytest

from chat_core.errors import ConflictError, InvalidInputError, NotFoundError
from chat_core.files import FileUpload
from chat_core.ids import SessionId, UploadId, UserId
from chat_storage import ResolvedFile, Storage, resolve_files

ALICE = UserId("alice")
BOB = UserId("bob")


async def add_file(
    storage: Storage,
    number: int,
    *,
    user_id: UserId = ALICE,
    ready: bool = True,
    mime_type: str = "text/plain",
    upload_bytes: bool = True,
) -> FileUpload:
    upload_id = UploadId(f"up-{number:04d}")
    data = f"content of file {number}".encode()
    upload = FileUpload(
        upload_id=upload_id,
        user_id=user_id,
        session_id=SessionId("s-1"),
        filename=f"file {number}.txt",
        mime_type=mime_type,
        size_bytes=len(data),
        storage_key=f"user-files/{user_id}/s-1/{upload_id}/file-{number}.txt",
    )
    await storage.files.reserve(upload, quota_bytes=1_000_000)
    if upload_bytes:
        await storage.blobs.put(upload.storage_key, data, content_type=mime_type)
    if ready:
        info = await storage.blobs.head(upload.storage_key)
        await storage.files.mark_ready(user_id, upload_id, etag=info.etag if info else None)
    return upload


class TestResolve:
    @pytest.mark.asyncio
    async def test_returns_each_file_in_the_order_asked(self, storage: Storage) -> None:
        await add_file(storage, 1)
        await add_file(storage, 2, mime_type="image/png")
        resolved = await resolve_files(storage, ALICE, ["up-0002", "up-0001"], max_files=5)
        assert resolved == [
            ResolvedFile(UploadId("up-0002"), "file 2.txt", "image/png", b"content of file 2"),
            ResolvedFile(UploadId("up-0001"), "file 1.txt", "text/plain", b"content of file 1"),
        ]

    @pytest.mark.asyncio
    async def test_no_ids_is_no_files(self, storage: Storage) -> None:
        assert await resolve_files(storage, ALICE, [], max_files=5) == []

    @pytest.mark.asyncio
    async def test_exactly_max_files_is_allowed(self, storage: Storage) -> None:
        for number in range(3):
            await add_file(storage, number)
        resolved = await resolve_files(storage, ALICE, [f"up-{n:04d}" for n in range(3)], max_files=3)
        assert len(resolved) == 3


class TestRefusals:
    @pytest.mark.asyncio
    async def test_more_than_max_files_is_refused_not_truncated(self, storage: Storage) -> None:
        for number in range(6):
            await add_file(storage, number)
        with pytest.raises(InvalidInputError) as caught:
            await resolve_files(storage, ALICE, [f"up-{n:04d}" for n in range(6)], max_files=5)
        assert caught.value.detail == {"maxFiles": 5, "given": 6}

    @pytest.mark.asyncio
    async def test_unknown_id_is_named(self, storage: Storage) -> None:
        await add_file(storage, 1)
        with pytest.raises(NotFoundError) as caught:
            await resolve_files(storage, ALICE, ["up-0001", "up-0404"], max_files=5)
        assert "up-0404" in caught.value.message

    @pytest.mark.asyncio
    async def test_someone_elses_file_is_not_found(self, storage: Storage) -> None:
        await add_file(storage, 7, user_id=BOB)
        with pytest.raises(NotFoundError) as caught:
            await resolve_files(storage, ALICE, ["up-0007"], max_files=5)
        assert "up-0007" in caught.value.message

    @pytest.mark.asyncio
    async def test_pending_file_is_a_conflict(self, storage: Storage) -> None:
        await add_file(storage, 1)
        await add_file(storage, 2, ready=False)
        with pytest.raises(ConflictError) as caught:
            await resolve_files(storage, ALICE, ["up-0001", "up-0002"], max_files=5)
        assert "up-0002" in caught.value.message

    @pytest.mark.asyncio
    async def test_failed_file_is_a_conflict(self, storage: Storage) -> None:
        await add_file(storage, 1, ready=False)
        await storage.files.mark_failed(ALICE, UploadId("up-0001"))
        with pytest.raises(ConflictError):
            await resolve_files(storage, ALICE, ["up-0001"], max_files=5)

    @pytest.mark.asyncio
    async def test_ready_record_without_bytes_is_not_found(self, storage: Storage) -> None:
        await add_file(storage, 1, upload_bytes=False)
        with pytest.raises(NotFoundError) as caught:
            await resolve_files(storage, ALICE, ["up-0001"], max_files=5)
        assert "up-0001" in caught.value.message

    @pytest.mark.asyncio
    async def test_repeated_id_is_refused(self, storage: Storage) -> None:
        await add_file(storage, 1)
        with pytest.raises(InvalidInputError) as caught:
            await resolve_files(storage, ALICE, ["up-0001", "up-0001"], max_files=5)
        assert "up-0001" in caught.value.message

    @pytest.mark.asyncio
    async def test_malformed_id_is_invalid(self, storage: Storage) -> None:
        for bad_id in ["../up-0001", "up-0001'", "x" * 10_000]:
            with pytest.raises(InvalidInputError):
                await resolve_files(storage, ALICE, [bad_id], max_files=5)


class TestReplacedAfterCompletion:
    """What an S3 upload link still allows until it expires: a PUT after completion. The resolver uses
    only the object checked at completion."""

    @pytest.mark.asyncio
    async def test_a_larger_object_is_refused_before_it_is_read(self, storage: Storage) -> None:
        upload = await add_file(storage, 1)
        await storage.blobs.put(upload.storage_key, b"x" * (upload.size_bytes + 1), content_type="text/plain")
        with pytest.raises(ConflictError) as raised:
            await resolve_files(storage, ALICE, ["up-0001"], max_files=5)
        assert raised.value.field == "fileUploadIds"
        assert "changed after its upload was completed" in raised.value.message

    @pytest.mark.asyncio
    async def test_an_object_of_the_same_size_is_refused(self, storage: Storage) -> None:
        upload = await add_file(storage, 1)
        replaced = b"X" * upload.size_bytes
        await storage.blobs.put(upload.storage_key, replaced, content_type="text/plain")
        with pytest.raises(ConflictError) as raised:
            await resolve_files(storage, ALICE, ["up-0001"], max_files=5)
        assert raised.value.detail == {"uploadId": "up-0001"}

    @pytest.mark.asyncio
    async def test_the_same_bytes_written_again_are_still_used(self, storage: Storage) -> None:
        upload = await add_file(storage, 1)
        await storage.blobs.put(upload.storage_key, b"content of file 1", content_type="text/plain")
        [resolved] = await resolve_files(storage, ALICE, ["up-0001"], max_files=5)
        assert resolved.data == b"content of file 1"
