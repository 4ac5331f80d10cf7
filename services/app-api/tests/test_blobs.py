"""The sqlite backend's signed blob URLs served by app-api: what a token allows and what it refuses."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from chat_core.ids import UploadId, UserId
from chat_storage import open_storage
from chat_storage.local.blobs import LocalBlobStore

CheckError = Callable[..., dict[str, Any]]
Auth = Callable[..., dict[str, str]]


def presign(live: Any, auth: Auth, size: int = 5, mime_type: str = "text/plain") -> dict[str, Any]:
    response = httpx.post(
        f"{live.base_url}/files/presign",
        json={"sessionId": "s-1", "filename": "a.txt", "mimeType": mime_type, "sizeBytes": size},
        headers=auth("blob-user"),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


class TestUpload:
    def test_a_put_needs_no_bearer_token_and_stores_the_body(self, sqlite_live: Any, auth: Auth) -> None:
        grant = presign(sqlite_live, auth)
        assert grant["presignedUrl"].startswith(f"{sqlite_live.base_url}/blobs/")
        response = httpx.put(
            grant["presignedUrl"], content=b"hello", headers={"Content-Type": "text/plain; charset=utf-8"}
        )
        assert response.status_code == 204
        assert response.headers["x-request-id"]

    def test_the_signed_content_type_is_enforced(
        self, sqlite_live: Any, auth: Auth, check_error: CheckError
    ) -> None:
        grant = presign(sqlite_live, auth)
        response = httpx.put(grant["presignedUrl"], content=b"hello", headers={"Content-Type": "text/html"})
        check_error(response, 403, "forbidden")

    def test_a_larger_body_is_refused_even_without_content_length(
        self, sqlite_live: Any, auth: Auth, check_error: CheckError
    ) -> None:
        grant = presign(sqlite_live, auth, size=5)

        def chunks() -> Any:
            yield b"abc"
            yield b"defgh"

        response = httpx.put(grant["presignedUrl"], content=chunks(), headers={"Content-Type": "text/plain"})
        error = check_error(response, 422, "validation_error")
        assert error["detail"] == {"maxBytes": 5}

    def test_a_tampered_token_is_403(self, sqlite_live: Any, auth: Auth, check_error: CheckError) -> None:
        grant = presign(sqlite_live, auth)
        payload, signature = token_of(grant["presignedUrl"]).split(".")
        # Change the first character: every bit of it counts (the last one of base64 carries padding bits,
        # so rewriting the end could leave the decoded signature as it was).
        other = "B" if signature[0] == "A" else "A"
        forged = f"{sqlite_live.base_url}/blobs/{payload}.{other}{signature[1:]}"
        check_error(
            httpx.put(forged, content=b"hello", headers={"Content-Type": "text/plain"}), 403, "forbidden"
        )

    def test_a_malformed_token_is_422(self, sqlite_live: Any, check_error: CheckError) -> None:
        check_error(httpx.put(f"{sqlite_live.base_url}/blobs/garbage", content=b"x"), 422, "validation_error")

    def test_an_upload_token_does_not_download(
        self, sqlite_live: Any, auth: Auth, check_error: CheckError
    ) -> None:
        grant = presign(sqlite_live, auth)
        httpx.put(grant["presignedUrl"], content=b"hello", headers={"Content-Type": "text/plain"})
        check_error(httpx.get(grant["presignedUrl"]), 403, "forbidden")

    def test_an_expired_token_is_403(self, sqlite_live: Any, check_error: CheckError) -> None:
        secret = (sqlite_live.settings.data_dir / "blob-signing-secret").read_text().strip()
        store = LocalBlobStore(
            sqlite_live.settings.data_dir / "blobs",
            base_url=f"{sqlite_live.base_url}/blobs",
            signing_secret=secret,
        )
        url = asyncio.run(
            store.presign_upload("scratch/expired.txt", content_type="text/plain", max_bytes=10, expires_in=1)
        )
        time.sleep(1.1)
        error = check_error(
            httpx.put(url, content=b"x", headers={"Content-Type": "text/plain"}), 403, "forbidden"
        )
        assert "expired" in error["message"]


class TestOneUploadPerLink:
    def test_a_completed_uploads_link_is_refused_and_the_file_kept(
        self, sqlite_live: Any, auth: Auth, check_error: CheckError
    ) -> None:
        grant = presign(sqlite_live, auth)
        url, upload_id = grant["presignedUrl"], grant["uploadId"]
        assert httpx.put(url, content=b"hello", headers={"Content-Type": "text/plain"}).status_code == 204
        completed = httpx.post(
            f"{sqlite_live.base_url}/files/{upload_id}/complete", headers=auth("blob-user")
        )
        assert completed.status_code == 200
        again = httpx.put(url, content=b"HELLO", headers={"Content-Type": "text/plain"})
        error = check_error(again, 409, "conflict")
        assert error["detail"] == {"uploadId": upload_id, "status": "ready"}

        async def stored() -> bytes | None:
            async with open_storage(sqlite_live.storage_config()) as storage:
                upload = await storage.files.get(UserId("blob-user"), UploadId(upload_id))
                assert upload is not None
                return await storage.blobs.get(upload.storage_key)

        assert asyncio.run(stored()) == b"hello"
        assert (
            httpx.delete(f"{sqlite_live.base_url}/files/{upload_id}", headers=auth("blob-user")).status_code
            == 204
        )
        after_delete = httpx.put(url, content=b"hello", headers={"Content-Type": "text/plain"})
        check_error(after_delete, 404, "not_found")

    def test_a_documents_link_is_refused_once_it_is_ingested(
        self, sqlite_live: Any, auth: Auth, check_error: CheckError
    ) -> None:
        with httpx.Client(base_url=sqlite_live.base_url, headers=auth("blob-user"), timeout=30) as owner:
            assistant_id = owner.post("/assistants", json={"name": "Otters"}).json()["assistantId"]
            grant = owner.post(
                f"/assistants/{assistant_id}/documents/upload-url",
                json={"filename": "otters.txt", "contentType": "text/plain", "sizeBytes": 64},
            ).json()
            text = {"Content-Type": "text/plain"}
            assert (
                httpx.put(grant["uploadUrl"], content=b"Otters hold hands.", headers=text).status_code == 204
            )
            path = f"/assistants/{assistant_id}/documents/{grant['documentId']}"
            deadline = time.monotonic() + 30
            while (status := owner.get(path).json()["status"]) not in ("complete", "failed"):
                assert time.monotonic() < deadline, status
                time.sleep(0.05)
            again = httpx.put(grant["uploadUrl"], content=b"Otters never sleep.", headers=text)
            error = check_error(again, 409, "conflict")
            assert error["detail"] == {"documentId": grant["documentId"], "status": status}


class TestDownload:
    def test_a_download_token_serves_the_bytes_as_an_attachment(self, sqlite_live: Any) -> None:
        secret = (sqlite_live.settings.data_dir / "blob-signing-secret").read_text().strip()
        store = LocalBlobStore(
            sqlite_live.settings.data_dir / "blobs",
            base_url=f"{sqlite_live.base_url}/blobs",
            signing_secret=secret,
        )
        asyncio.run(store.put("scratch/report.pdf", b"%PDF-bytes", content_type="application/pdf"))
        url = asyncio.run(
            store.presign_download("scratch/report.pdf", filename="Résumé 2026.pdf", expires_in=60)
        )
        response = httpx.get(url)
        assert response.status_code == 200
        assert response.content == b"%PDF-bytes"
        assert response.headers["content-type"] == "application/pdf"
        assert "filename*=UTF-8''R%C3%A9sum%C3%A9%202026.pdf" in response.headers["content-disposition"]


class TestAwsBackend:
    def test_the_blob_routes_do_not_exist_there(self, aws_live: Any, check_error: CheckError) -> None:
        check_error(httpx.get(f"{aws_live.base_url}/blobs/a.b"), 404, "not_found")
        check_error(httpx.put(f"{aws_live.base_url}/blobs/a.b", content=b"x"), 404, "not_found")
