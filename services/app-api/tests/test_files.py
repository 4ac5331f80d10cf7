"""Chat attachments over HTTP on both backends: presign, browser PUT, complete, list, delete, quota."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

Api = Callable[..., Any]
CheckError = Callable[..., dict[str, Any]]


def presign(client: httpx.Client, size: int, **fields: Any) -> httpx.Response:
    body = {"sessionId": "s-1", "filename": "notes.txt", "mimeType": "text/plain", "sizeBytes": size} | fields
    response: httpx.Response = client.post("/files/presign", json=body)
    return response


def put(url: str, data: bytes, content_type: str = "text/plain") -> httpx.Response:
    return httpx.put(url, content=data, headers={"Content-Type": content_type})


class TestUploadFlow:
    def test_presign_put_complete_list_delete(self, api: Api, check_error: CheckError) -> None:
        alice = api()
        grant = presign(alice, 5).json()
        assert set(grant) == {"uploadId", "presignedUrl", "expiresAt"}
        assert put(grant["presignedUrl"], b"hello").status_code in (200, 204)
        assert alice.get("/files").json()["files"] == []  # pending files are not listed
        done = alice.post(f"/files/{grant['uploadId']}/complete")
        assert done.status_code == 200
        assert (done.json()["status"], done.json()["sizeBytes"]) == ("ready", 5)
        check_error(alice.post(f"/files/{grant['uploadId']}/complete"), 409, "conflict")
        files = alice.get("/files", params={"sessionId": "s-1"}).json()
        assert [item["uploadId"] for item in files["files"]] == [grant["uploadId"]]
        assert (files["nextCursor"], files["totalCount"]) == (None, None)
        assert alice.get("/files", params={"sessionId": "other"}).json()["files"] == []
        assert alice.get("/files/quota").json() == {"usedBytes": 5, "maxBytes": 1024**3, "fileCount": 1}
        assert alice.delete(f"/files/{grant['uploadId']}").status_code == 204
        assert alice.get("/files/quota").json()["usedBytes"] == 0
        check_error(alice.delete(f"/files/{grant['uploadId']}"), 404, "not_found")

    def test_s3_uri_names_the_object_on_aws_and_is_null_on_sqlite(self, api: Api, live: Any) -> None:
        alice = api()
        grant = presign(alice, 5).json()
        put(grant["presignedUrl"], b"hello")
        done = alice.post(f"/files/{grant['uploadId']}/complete").json()
        listed = alice.get("/files").json()["files"][0]
        assert listed["s3Uri"] == done["s3Uri"]
        if live.backend == "aws":
            bucket = f"{live.settings.resource_prefix}-blobs"
            assert done["s3Uri"].startswith(f"s3://{bucket}/")
            assert done["s3Uri"].endswith(f"/{grant['uploadId']}/notes.txt")
        else:
            assert done["s3Uri"] is None

    def test_complete_without_an_upload_is_404_and_fails_the_file(
        self, api: Api, check_error: CheckError
    ) -> None:
        alice = api()
        grant = presign(alice, 5).json()
        check_error(alice.post(f"/files/{grant['uploadId']}/complete"), 404, "not_found")
        assert alice.get("/files/quota").json()["usedBytes"] == 0  # a failed upload gives its bytes back
        check_error(alice.post(f"/files/{grant['uploadId']}/complete"), 409, "conflict")

    def test_list_sorts_and_paginates(self, api: Api) -> None:
        alice = api()
        for size in (3, 1, 2):
            grant = presign(alice, size).json()
            put(grant["presignedUrl"], b"x" * size)
            alice.post(f"/files/{grant['uploadId']}/complete")
        first = alice.get("/files", params={"sortBy": "size", "sortOrder": "asc", "limit": 2}).json()
        assert [item["sizeBytes"] for item in first["files"]] == [1, 2]
        rest = alice.get(
            "/files", params={"sortBy": "size", "sortOrder": "asc", "limit": 2, "cursor": first["nextCursor"]}
        ).json()
        assert [item["sizeBytes"] for item in rest["files"]] == [3]

    def test_file_names_are_sanitised_before_they_reach_a_key(self, api: Api) -> None:
        alice = api()
        grant = presign(alice, 3, filename="../../etc/pa ss?wd*.txt").json()
        assert "etc" not in grant["presignedUrl"].split("?")[0]
        assert put(grant["presignedUrl"], b"abc").status_code in (200, 204)
        done = alice.post(f"/files/{grant['uploadId']}/complete").json()
        assert done["filename"] == "../../etc/pa ss?wd*.txt"  # the name shown is the one given


class TestAfterCompletion:
    def test_the_upload_link_cannot_replace_a_completed_file(
        self, api: Api, live: Any, check_error: CheckError
    ) -> None:
        """sqlite refuses the PUT; an S3 link cannot be revoked, so there the replaced object is refused
        wherever the file is used (a turn's attachments are resolved by `resolve_files`)."""
        from chat_core.errors import ConflictError
        from chat_core.ids import UserId
        from chat_storage import open_storage, resolve_files

        alice = api()
        grant = presign(alice, 5).json()
        put(grant["presignedUrl"], b"hello")
        assert alice.post(f"/files/{grant['uploadId']}/complete").status_code == 200
        replaced = put(grant["presignedUrl"], b"HELLO")
        if live.backend == "sqlite":
            check_error(replaced, 409, "conflict")
        else:
            assert replaced.status_code == 200  # S3 itself answers

        async def resolved() -> bytes:
            async with open_storage(live.storage_config()) as storage:
                [file] = await resolve_files(storage, UserId(alice.user_id), [grant["uploadId"]], max_files=5)
                return file.data

        if live.backend == "sqlite":
            assert asyncio.run(resolved()) == b"hello"
        else:
            with pytest.raises(ConflictError):
                asyncio.run(resolved())


class TestLimits:
    def test_an_upload_larger_than_declared_never_becomes_ready(
        self, api: Api, live: Any, check_error: CheckError
    ) -> None:
        alice = api()
        grant = presign(alice, 5).json()
        response = put(grant["presignedUrl"], b"0123456789")
        if live.backend == "sqlite":  # app-api enforces the signed size itself
            check_error(response, 422, "validation_error")
            check_error(alice.post(f"/files/{grant['uploadId']}/complete"), 404, "not_found")
        else:  # S3 cannot cap a presigned PUT: completion checks the stored size
            assert response.status_code == 200
            check_error(alice.post(f"/files/{grant['uploadId']}/complete"), 422, "validation_error")
        assert alice.get("/files/quota").json()["usedBytes"] == 0
        assert alice.get("/files").json()["files"] == []

    def test_unsupported_type_is_refused(self, api: Api, check_error: CheckError) -> None:
        error = check_error(presign(api(), 5, mimeType="application/x-msdownload"), 422, "validation_error")
        assert error["field"] == "mimeType"

    def test_too_large_is_refused(self, api: Api, check_error: CheckError) -> None:
        error = check_error(presign(api(), 4 * 1024 * 1024 + 1), 422, "validation_error")
        assert error["detail"] == {"maxBytes": 4 * 1024 * 1024}

    def test_non_positive_size_is_refused(self, api: Api, check_error: CheckError) -> None:
        check_error(presign(api(), 0), 422, "validation_error")


@pytest.fixture
def small_quota_app(
    live: Any,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    settings_for: Callable[..., Any],
    aws_settings_for: Callable[..., Any],
    start_app: Callable[[Any], AbstractContextManager[Any]],
) -> Iterator[Any]:
    limits = {"file_user_quota_bytes": 100, "file_max_bytes": 60}
    if live.backend == "aws":
        settings = aws_settings_for(tmp_path, request.getfixturevalue("moto_endpoint"), **limits)
    else:
        settings = settings_for(tmp_path, **limits)
    with start_app(settings) as app:
        yield app


class TestQuota:
    def test_quota_exceeded_has_the_original_detail(
        self, api: Api, small_quota_app: Any, check_error: CheckError
    ) -> None:
        alice = api(base_url=small_quota_app.base_url)
        assert presign(alice, 60).status_code == 200
        error = check_error(presign(alice, 50), 429, "quota_exceeded")
        assert error["detail"] == {"currentUsage": 60, "maxAllowed": 100, "requiredSpace": 50}
        assert alice.get("/files/quota").json() == {"usedBytes": 60, "maxBytes": 100, "fileCount": 1}


class TestConcurrentQuota:
    """The reservation is one conditional write, so concurrent presigns can never overshoot together
    (the moto stand-in serialises requests, as DynamoDB applies each one atomically)."""

    @pytest.mark.parametrize("backend", ["sqlite", pytest.param("aws", marks=pytest.mark.aws)])
    def test_concurrent_presigns_cannot_exceed_the_quota(
        self,
        backend: str,
        tmp_path: Path,
        request: pytest.FixtureRequest,
        auth: Callable[..., dict[str, str]],
        settings_for: Callable[..., Any],
        aws_settings_for: Callable[..., Any],
        start_app: Callable[[Any], AbstractContextManager[Any]],
    ) -> None:
        if backend == "aws":
            settings = aws_settings_for(
                tmp_path, request.getfixturevalue("moto_endpoint"), file_user_quota_bytes=100
            )
        else:
            settings = settings_for(tmp_path, file_user_quota_bytes=100)
        body = {"sessionId": "s-1", "filename": "a.txt", "mimeType": "text/plain", "sizeBytes": 30}
        with start_app(settings) as app, httpx.Client(base_url=app.base_url, headers=auth("alice")) as client:
            with ThreadPoolExecutor(max_workers=8) as pool:
                responses = list(pool.map(lambda _: client.post("/files/presign", json=body), range(8)))
            quota = client.get("/files/quota").json()
        assert sorted(response.status_code for response in responses) == [200] * 3 + [429] * 5
        assert quota["usedBytes"] == 90
