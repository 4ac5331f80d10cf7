from chat_core.documents import Document, DocumentProgress, DocumentStatus
from chat_core.identity import User, UserProfile
from chat_core.ids import UserId


def test_document_json_field_names_and_default_status() -> None:
    document = Document.model_validate(
        {"documentId": "DOC-1", "assistantId": "ast-1", "filename": "a.md", "contentType": "text/markdown",
         "sizeBytes": 10, "storageKey": "assistants/ast-1/documents/DOC-1/a.md"}
    )  # fmt: skip
    data = document.to_json_dict()
    assert data["status"] == "uploading"
    assert {
        "documentId",
        "assistantId",
        "contentType",
        "sizeBytes",
        "errorMessage",
        "chunkCount",
        "createdAt",
    } <= set(data)


def test_document_progress_statuses_follow_the_pipeline() -> None:
    assert [status.value for status in DocumentStatus] == [
        "uploading",
        "chunking",
        "embedding",
        "complete",
        "failed",
    ]
    progress = DocumentProgress(status=DocumentStatus.FAILED, error_message="The PDF is encrypted.")
    assert progress.chunk_count is None


def test_has_any_role() -> None:
    user = User(user_id=UserId("u"), email="u@example.com", roles=["staff", "admin"])
    assert user.has_any_role(frozenset({"admin"}))
    assert not user.has_any_role(frozenset({"superuser"}))
    assert UserProfile(user_id=user.user_id, email=user.email).first_seen_at is not None
