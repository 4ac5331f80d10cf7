from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from chat_core.errors import ConflictError, InternalError, InvalidInputError, PermissionDeniedError
from chat_storage.local.blobs import LocalBlobStore, validate_blob_key, verify_blob_grant

SECRET = "blob-secret"
BASE_URL = "http://127.0.0.1:8000/blobs"


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs", base_url=BASE_URL + "/", signing_secret=SECRET)


def token_of(url: str) -> str:
    assert url.startswith(BASE_URL + "/")
    token = url.removeprefix(BASE_URL + "/")
    assert "/" not in token
    assert urlsplit(url).path.endswith(token)
    return token


class TestGrants:
    @pytest.mark.asyncio
    async def test_upload_grant_round_trip(self, store: LocalBlobStore) -> None:
        url = await store.presign_upload(
            "u/s/up-1/a.pdf", content_type="application/pdf", max_bytes=4096, expires_in=900
        )
        grant = verify_blob_grant(token_of(url), SECRET, operation="put")
        assert (grant.operation, grant.key, grant.content_type, grant.max_bytes, grant.filename) == (
            "put",
            "u/s/up-1/a.pdf",
            "application/pdf",
            4096,
            None,
        )

    @pytest.mark.asyncio
    async def test_download_grant_round_trip(self, store: LocalBlobStore) -> None:
        url = await store.presign_download("u/s/up-1/a.pdf", filename="Report ü.pdf", expires_in=60)
        grant = verify_blob_grant(token_of(url), SECRET.encode(), operation="get")
        assert (grant.key, grant.filename) == ("u/s/up-1/a.pdf", "Report ü.pdf")

    @pytest.mark.asyncio
    async def test_a_grant_for_one_operation_does_not_allow_the_other(self, store: LocalBlobStore) -> None:
        url = await store.presign_download("k/a", filename="a", expires_in=60)
        with pytest.raises(PermissionDeniedError):
            verify_blob_grant(token_of(url), SECRET, operation="put")

    @pytest.mark.asyncio
    async def test_an_expired_grant_is_refused(self, store: LocalBlobStore) -> None:
        url = await store.presign_download("k/a", filename="a", expires_in=60)
        grant = verify_blob_grant(token_of(url), SECRET, operation="get")
        with pytest.raises(PermissionDeniedError, match="expired"):
            verify_blob_grant(token_of(url), SECRET, operation="get", now=grant.expires_at.timestamp() + 1)

    @pytest.mark.asyncio
    async def test_another_secret_or_an_edited_payload_is_refused(self, store: LocalBlobStore) -> None:
        token = token_of(await store.presign_download("k/a", filename="a", expires_in=60))
        with pytest.raises(PermissionDeniedError):
            verify_blob_grant(token, "other-secret", operation="get")
        payload, signature = token.split(".")
        forged = LocalBlobStore(Path("unused"), base_url=BASE_URL, signing_secret="attacker")
        forged_token = token_of(await forged.presign_download("k/b", filename="b", expires_in=60))
        with pytest.raises(PermissionDeniedError):
            verify_blob_grant(f"{forged_token.split('.')[0]}.{signature}", SECRET, operation="get")
        with pytest.raises((PermissionDeniedError, InvalidInputError)):
            verify_blob_grant(f"{payload[:-2]}xx.{signature}", SECRET, operation="get")

    @pytest.mark.parametrize("token", ["", "no-dot", "a.b.c", "!!!.???", "x" * 10_000])
    def test_a_malformed_token_is_invalid(self, token: str) -> None:
        with pytest.raises((InvalidInputError, PermissionDeniedError)):
            verify_blob_grant(token, SECRET, operation="get")

    @pytest.mark.asyncio
    async def test_presigning_without_a_secret_fails_loudly(self, tmp_path: Path) -> None:
        unsigned = LocalBlobStore(tmp_path, base_url=BASE_URL, signing_secret="")
        with pytest.raises(InternalError):
            await unsigned.presign_download("k/a", filename="a", expires_in=60)
        with pytest.raises(InternalError):
            verify_blob_grant("a.b", "", operation="get")

    @pytest.mark.asyncio
    @pytest.mark.parametrize("expires_in", [0, -5, 8 * 24 * 3600])
    async def test_expiry_out_of_range_is_invalid(self, store: LocalBlobStore, expires_in: int) -> None:
        with pytest.raises(InvalidInputError):
            await store.presign_upload("k/a", content_type="text/plain", max_bytes=1, expires_in=expires_in)


class TestFiles:
    @pytest.mark.asyncio
    async def test_objects_live_under_the_root_and_leave_no_temporary_files(
        self, store: LocalBlobStore, tmp_path: Path
    ) -> None:
        for n in range(3):
            await store.put("a/b/c.txt", b"x" * n, content_type="text/plain")
        files = [Path(parent, name) for parent, _, names in os.walk(tmp_path) for name in names]
        assert files == [tmp_path / "blobs" / "a" / "b" / "c.txt"]

    @pytest.mark.asyncio
    async def test_a_key_under_an_existing_object_is_a_conflict(self, store: LocalBlobStore) -> None:
        await store.put("a/b", b"x", content_type="text/plain")
        with pytest.raises(ConflictError):
            await store.put("a/b/c", b"y", content_type="text/plain")
        assert await store.get("a/b") == b"x"

    @pytest.mark.asyncio
    async def test_delete_prefix_removes_emptied_directories(
        self, store: LocalBlobStore, tmp_path: Path
    ) -> None:
        await store.put("a/1/x", b"x", content_type="text/plain")
        await store.put("a/1/y/z", b"x", content_type="text/plain")
        assert await store.delete_prefix("a/1/") == 2
        assert not (tmp_path / "blobs" / "a" / "1" / "y").exists()


class TestKeys:
    @pytest.mark.parametrize("key", ["a", "user-files/u@x.io/s-1/0193_ab/Report (1) [v2].pdf", "a:b+c=d,e"])
    def test_accepted(self, key: str) -> None:
        assert validate_blob_key(key) == key

    @pytest.mark.parametrize("key", [".hidden", "a/.tmp-x", "a/", "/a", "a\x00b", "a\nb", "ü/x", "a\\b"])
    def test_refused(self, key: str) -> None:
        with pytest.raises(InvalidInputError):
            validate_blob_key(key)
