"""Chat attachments and the files page, as `FE/services/file-upload/file-upload.service.ts` calls them
(FE = `frontend/ai.client/src/app` of the client)."""

from __future__ import annotations

import uuid

import httpx
from frontend_kit import INTEGER, STRING, FrontendClient, UserFactory, array, check, nullable, obj

# FE/services/file-upload/file-upload.service.ts: PresignResponse
PRESIGN = obj({"uploadId": STRING, "presignedUrl": STRING, "expiresAt": STRING})
# FE/services/file-upload/file-upload.service.ts: CompleteUploadResponse (nothing of it is read;
# `s3Uri` is `s3://bucket/key` on the aws backend and null on sqlite, where no S3 exists)
COMPLETE = obj(
    {"uploadId": STRING, "status": STRING, "filename": STRING, "sizeBytes": INTEGER}, {"s3Uri": STRING}
)
# FE/services/file-upload/file-upload.service.ts: FileMetadata (`sessionId` links to /s/{sessionId})
FILE_METADATA = obj(
    {
        "uploadId": STRING,
        "filename": STRING,
        "mimeType": STRING,
        "sizeBytes": INTEGER,
        "sessionId": STRING,
        "status": STRING,
        "createdAt": STRING,
    },
    {"s3Uri": STRING},
)
# FE/services/file-upload/file-upload.service.ts: FileListResponse (`totalCount` is declared, unused)
FILE_LIST = obj({"files": array(FILE_METADATA), "nextCursor": nullable(STRING)}, {"totalCount": INTEGER})
# FE/services/file-upload/file-upload.service.ts: QuotaResponse
QUOTA = obj({"usedBytes": INTEGER, "maxBytes": INTEGER, "fileCount": INTEGER})


def upload(
    client: FrontendClient, session_id: str, filename: str, data: bytes, mime_type: str
) -> dict[str, object]:
    presign = client.post(
        "/files/presign",
        json={"sessionId": session_id, "filename": filename, "mimeType": mime_type, "sizeBytes": len(data)},
    )
    assert presign.status_code == 200, presign.text
    check(presign.json(), PRESIGN)
    put = httpx.put(presign.json()["presignedUrl"], content=data, headers={"Content-Type": mime_type})
    assert put.status_code in (200, 204), put.text
    complete = client.post(f"/files/{presign.json()['uploadId']}/complete", json={})
    assert complete.status_code == 200, complete.text
    check(complete.json(), COMPLETE)
    body: dict[str, object] = complete.json()
    return body


class TestAttachments:
    def test_attach_then_find_it_again_for_the_session(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        session_id = str(uuid.uuid4())  # invented by the client before the first message
        done = upload(client, session_id, "notes.txt", b"hello there", "text/plain")
        response = client.get("/files", params={"sessionId": session_id})
        assert response.status_code == 200
        check(response.json(), FILE_LIST)
        assert [item["uploadId"] for item in response.json()["files"]] == [done["uploadId"]]

    def test_removing_an_attachment_before_sending(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        done = upload(client, str(uuid.uuid4()), "photo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 32, "image/png")
        assert client.delete(f"/files/{done['uploadId']}").status_code in (200, 204)
        assert client.get("/files").json()["files"] == []


class TestFilesPage:
    def test_pages_of_fifty_sorted_with_the_storage_banner(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        session_id = str(uuid.uuid4())
        for number in range(3):
            upload(client, session_id, f"file-{number}.txt", b"x" * (number + 1), "text/plain")
        seen: list[str] = []
        params = {"limit": "2", "sortBy": "size", "sortOrder": "desc"}
        while True:
            page = client.get("/files", params=params)
            assert page.status_code == 200, page.text
            check(page.json(), FILE_LIST)
            seen += [item["filename"] for item in page.json()["files"]]
            if page.json()["nextCursor"] is None:
                break
            params = {**params, "cursor": page.json()["nextCursor"]}
        assert seen == ["file-2.txt", "file-1.txt", "file-0.txt"]
        first = client.get("/files", params={"limit": "50", "sortBy": "date", "sortOrder": "desc"})
        assert len(first.json()["files"]) == 3
        quota = client.get("/files/quota")
        assert quota.status_code == 200
        check(quota.json(), QUOTA)
        assert (quota.json()["usedBytes"], quota.json()["fileCount"]) == (6, 3)
