from __future__ import annotations

import asyncio

import pytest

from chat_core.errors import InvalidInputError
from chat_storage import Storage

ALL_BYTES = bytes(range(256)) * 4


class TestPutGet:
    @pytest.mark.asyncio
    async def test_round_trip(self, storage: Storage) -> None:
        await storage.blobs.put(
            "user-files/u-1/s-1/up-1/a b(1).bin", ALL_BYTES, content_type="application/pdf"
        )
        assert await storage.blobs.get("user-files/u-1/s-1/up-1/a b(1).bin") == ALL_BYTES
        info = await storage.blobs.head("user-files/u-1/s-1/up-1/a b(1).bin")
        assert info is not None
        assert (info.key, info.size_bytes, info.content_type) == (
            "user-files/u-1/s-1/up-1/a b(1).bin",
            len(ALL_BYTES),
            "application/pdf",
        )

    @pytest.mark.asyncio
    async def test_empty_object(self, storage: Storage) -> None:
        await storage.blobs.put("k/empty.txt", b"", content_type="text/plain")
        assert await storage.blobs.get("k/empty.txt") == b""

    @pytest.mark.asyncio
    async def test_missing_object_is_none(self, storage: Storage) -> None:
        assert await storage.blobs.get("k/missing.txt") is None
        assert await storage.blobs.head("k/missing.txt") is None

    @pytest.mark.asyncio
    async def test_overwrite_replaces_bytes_and_type(self, storage: Storage) -> None:
        await storage.blobs.put("k/file", b"first version", content_type="text/plain")
        await storage.blobs.put("k/file", b"second", content_type="text/markdown")
        assert await storage.blobs.get("k/file") == b"second"
        info = await storage.blobs.head("k/file")
        assert info is not None
        assert (info.size_bytes, info.content_type) == (6, "text/markdown")

    @pytest.mark.asyncio
    async def test_concurrent_writers_leave_one_whole_object(self, storage: Storage) -> None:
        bodies = [bytes([n]) * 50_000 for n in range(8)]
        await asyncio.gather(
            *(
                storage.blobs.put("k/contended", body, content_type="application/octet-stream")
                for body in bodies
            )
        )
        assert await storage.blobs.get("k/contended") in bodies


class TestDelete:
    @pytest.mark.asyncio
    async def test_delete_is_idempotent(self, storage: Storage) -> None:
        await storage.blobs.put("k/file", b"x", content_type="text/plain")
        await storage.blobs.delete("k/file")
        await storage.blobs.delete("k/file")
        assert await storage.blobs.get("k/file") is None

    @pytest.mark.asyncio
    async def test_delete_prefix_removes_only_that_prefix(self, storage: Storage) -> None:
        for key in ["a/1/x", "a/1/y/z", "a/10/x", "b/1/x"]:
            await storage.blobs.put(key, b"data", content_type="text/plain")
        assert await storage.blobs.delete_prefix("a/1/") == 2
        assert await storage.blobs.get("a/1/x") is None
        assert await storage.blobs.get("a/1/y/z") is None
        assert await storage.blobs.get("a/10/x") == b"data"
        assert await storage.blobs.get("b/1/x") == b"data"
        assert await storage.blobs.delete_prefix("a/1/") == 0

    @pytest.mark.asyncio
    async def test_prefix_must_end_with_a_slash(self, storage: Storage) -> None:
        await storage.blobs.put("a/1/x", b"data", content_type="text/plain")
        with pytest.raises(InvalidInputError):
            await storage.blobs.delete_prefix("a/1")
        assert await storage.blobs.get("a/1/x") == b"data"


class TestPresign:
    @pytest.mark.asyncio
    async def test_urls_are_http_and_differ_per_key(self, storage: Storage) -> None:
        upload = await storage.blobs.presign_upload(
            "k/one.pdf", content_type="application/pdf", max_bytes=1_000, expires_in=900
        )
        download = await storage.blobs.presign_download("k/one.pdf", filename="one.pdf", expires_in=900)
        other = await storage.blobs.presign_download("k/two.pdf", filename="two.pdf", expires_in=900)
        assert upload.startswith(("http://", "https://"))
        assert download.startswith(("http://", "https://"))
        assert len({upload, download, other}) == 3


BAD_KEYS = ["", "/etc/passwd", "../escape", "a/../../b", "a/./b", "a//b", "a\\b", "k/" + "x" * 10_000]


class TestKeys:
    @pytest.mark.asyncio
    async def test_unsafe_keys_are_refused(self, storage: Storage) -> None:
        for key in BAD_KEYS:
            with pytest.raises(InvalidInputError):
                await storage.blobs.put(key, b"x", content_type="text/plain")
            with pytest.raises(InvalidInputError):
                await storage.blobs.get(key)
            with pytest.raises(InvalidInputError):
                await storage.blobs.presign_download(key, filename="x", expires_in=60)
