"""An assistant's knowledge base, as `FE/assistants/services/document.service.ts` uploads, polls, lists,
downloads (citations) and deletes documents. FE = `frontend/ai.client/src/app` of the client."""

from __future__ import annotations

import httpx
from frontend_kit import (
    INTEGER,
    MANUAL,
    STRING,
    UserFactory,
    array,
    check,
    enum,
    obj,
    upload_document,
    wait_for_document,
)

# FE/assistants/models/document.model.ts: UploadUrlResponse
UPLOAD_URL = obj({"documentId": STRING, "uploadUrl": STRING, "expiresIn": INTEGER})
# FE/assistants/models/document.model.ts: Document. `errorDetails` is declared but never read, and
# not sent (the original put exception text there; only the readable `errorMessage` is given).
DOCUMENT = obj(
    {
        "documentId": STRING,
        "assistantId": STRING,
        "filename": STRING,
        "contentType": STRING,
        "sizeBytes": INTEGER,
        "status": enum("uploading", "chunking", "embedding", "complete", "failed"),
        "createdAt": STRING,
        "updatedAt": STRING,
    },
    {"errorMessage": STRING, "errorDetails": STRING, "chunkCount": INTEGER},
)
# FE/assistants/models/document.model.ts: DocumentsListResponse
DOCUMENTS_LIST = obj({"documents": array(DOCUMENT)}, {"nextToken": STRING})
# FE/assistants/models/document.model.ts: DownloadUrlResponse (the citation button opens downloadUrl)
DOWNLOAD_URL = obj({"downloadUrl": STRING, "filename": STRING, "expiresIn": INTEGER})


class TestKnowledgeBase:
    def test_upload_poll_list_download_delete(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        assistant_id = client.post("/assistants/draft", json={"name": "Untitled Assistant"}).json()[
            "assistantId"
        ]
        data = MANUAL.encode()
        grant = client.post(
            f"/assistants/{assistant_id}/documents/upload-url",
            json={"filename": "manual.md", "contentType": "text/markdown", "sizeBytes": len(data)},
        )
        assert grant.status_code in (200, 201), grant.text
        check(grant.json(), UPLOAD_URL)
        put = httpx.put(grant.json()["uploadUrl"], content=data, headers={"Content-Type": "text/markdown"})
        assert put.status_code in (200, 204), put.text
        document_id = grant.json()["documentId"]

        document = wait_for_document(client, assistant_id, document_id)
        check(document, DOCUMENT)
        assert document["status"] == "complete"
        assert document["chunkCount"] >= 1

        listed = client.get(f"/assistants/{assistant_id}/documents")
        assert listed.status_code == 200
        check(listed.json(), DOCUMENTS_LIST)
        assert [item["documentId"] for item in listed.json()["documents"]] == [document_id]

        download = client.get(f"/assistants/{assistant_id}/documents/{document_id}/download")
        assert download.status_code == 200
        check(download.json(), DOWNLOAD_URL)
        assert httpx.get(download.json()["downloadUrl"]).content == data

        assert client.delete(f"/assistants/{assistant_id}/documents/{document_id}").status_code in (200, 204)
        assert client.get(f"/assistants/{assistant_id}/documents").json()["documents"] == []

    def test_a_file_the_knowledge_base_cannot_read_fails_with_a_readable_message(
        self, frontend_user: UserFactory
    ) -> None:
        client = frontend_user()
        assistant_id = client.post("/assistants/draft", json={"name": "Untitled Assistant"}).json()[
            "assistantId"
        ]
        document_id = upload_document(client, assistant_id, "broken.pdf", "not a pdf", "application/pdf")
        document = wait_for_document(client, assistant_id, document_id)
        check(document, DOCUMENT)
        assert document["status"] == "failed"
        assert document["errorMessage"]

    def test_documents_of_someone_elses_assistant_are_not_found(self, frontend_user: UserFactory) -> None:
        owner, other = frontend_user(), frontend_user()
        assistant_id = owner.post("/assistants/draft", json={"name": "Untitled Assistant"}).json()[
            "assistantId"
        ]
        assert other.get(f"/assistants/{assistant_id}/documents").status_code == 404
