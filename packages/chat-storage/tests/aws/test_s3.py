"""S3-specific behaviour: presigned URLs used over HTTP, paged prefix deletes, key and expiry checks.

moto does not check presigned signatures or expiry (see reference/components.md), so these tests
prove the upload and download flows work, not that S3 would refuse a forged URL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from chat_core.errors import InvalidInputError
from chat_storage.aws import open_aws_storage
from chat_storage.aws import s3 as s3_module
from chat_storage.base import Storage
from chat_storage.config import AwsStorageConfig

pytestmark = pytest.mark.aws


@pytest_asyncio.fixture
async def storage(aws_storage_config: AwsStorageConfig) -> AsyncIterator[Storage]:
    async with open_aws_storage(aws_storage_config) as opened:
        yield opened


class TestPresignedUpload:
    @pytest.mark.asyncio
    async def test_a_put_to_the_url_stores_the_object_with_its_type(
        self, storage: Storage, aws_storage_config: AwsStorageConfig
    ) -> None:
        url = await storage.blobs.presign_upload(
            "uploads/alice/u1/report.pdf", content_type="application/pdf", max_bytes=1024, expires_in=900
        )
        assert url.startswith(
            f"{aws_storage_config.endpoint_url}/{aws_storage_config.resource_prefix}-blobs/"
        )
        assert "X-Amz-Signature=" in url
        async with httpx.AsyncClient() as http:
            response = await http.put(url, content=b"%PDF-1.7", headers={"Content-Type": "application/pdf"})
        assert response.status_code == 200
        info = await storage.blobs.head("uploads/alice/u1/report.pdf")
        assert info is not None
        assert (info.size_bytes, info.content_type) == (8, "application/pdf")

    @pytest.mark.asyncio
    @pytest.mark.parametrize("expires_in", [0, 7 * 24 * 3600 + 1])
    async def test_expiry_out_of_range_is_refused(self, storage: Storage, expires_in: int) -> None:
        with pytest.raises(InvalidInputError):
            await storage.blobs.presign_upload(
                "a/b", content_type="text/plain", max_bytes=1, expires_in=expires_in
            )


class TestPresignedDownload:
    @pytest.mark.asyncio
    async def test_a_get_returns_the_bytes_as_an_attachment_named_as_asked(self, storage: Storage) -> None:
        await storage.blobs.put("docs/a1/d1/file", b"hello", content_type="text/plain")
        url = await storage.blobs.presign_download(
            "docs/a1/d1/file", filename='résumé "final".txt', expires_in=60
        )
        async with httpx.AsyncClient() as http:
            response = await http.get(url)
        assert response.status_code == 200
        assert response.content == b"hello"
        disposition = response.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="r_sum_ _final_.txt"')
        assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.txt" in disposition


class TestDeletePrefix:
    @pytest.mark.asyncio
    async def test_pages_through_listings_and_counts_what_it_removed(
        self, storage: Storage, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(s3_module, "_DELETE_BATCH", 2)  # five objects: three list pages
        for number in range(5):
            await storage.blobs.put(f"assistants/a1/documents/d{number}", b"x", content_type="text/plain")
        await storage.blobs.put("assistants/a10/documents/d0", b"x", content_type="text/plain")
        assert await storage.blobs.delete_prefix("assistants/a1/") == 5
        assert await storage.blobs.get("assistants/a1/documents/d0") is None
        assert await storage.blobs.get("assistants/a10/documents/d0") == b"x"
        assert await storage.blobs.delete_prefix("assistants/a1/") == 0


class TestKeys:
    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        "key", ["", "/abs", "a//b", "a/../b", "./a", "a/b/", "a\\b", 'a"b', "a\nb", "x" * 1025, "a/%2e%2e"]
    )
    async def test_unsafe_keys_are_refused_before_any_request(self, storage: Storage, key: str) -> None:
        with pytest.raises(InvalidInputError):
            await storage.blobs.get(key)
