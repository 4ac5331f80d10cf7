import pytest
from pydantic import ValidationError

from chat_core.messages import Attachment, ContentBlock, Message, MessageMetadata, ToolUse
from chat_core.sessions import (
    DEFAULT_SESSION_TITLE,
    SessionMetadata,
    SessionPreferences,
    SessionStatus,
    SessionUpdate,
    fallback_title,
)


class TestFallbackTitle:
    def test_short_text_is_kept(self) -> None:
        assert fallback_title("  How do   I reset\nmy password? ") == "How do I reset my password?"

    def test_cut_at_a_word_boundary_within_50(self) -> None:
        title = fallback_title(
            "Please explain the difference between optimistic and pessimistic locking in databases"
        )
        assert len(title) <= 50
        assert title == "Please explain the difference between optimistic"

    def test_one_long_word_is_cut_hard(self) -> None:
        assert fallback_title("x" * 80) == "x" * 50

    def test_empty_text_gets_the_default(self) -> None:
        assert fallback_title("   ") == DEFAULT_SESSION_TITLE


class TestSessionShapes:
    def test_json_field_names(self) -> None:
        session = SessionMetadata.model_validate({"sessionId": "s1", "userId": "u1"})
        data = session.to_json_dict()
        assert {"sessionId", "userId", "title", "status", "createdAt", "lastMessageAt", "messageCount", "starred", "tags",
                "preferences", "deleted", "deletedAt"} <= set(data)  # fmt: skip
        assert data["title"] == DEFAULT_SESSION_TITLE

    def test_sort_time_falls_back_to_created(self) -> None:
        session = SessionMetadata.model_validate({"sessionId": "s1", "userId": "u1"})
        assert session.sort_time == session.created_at

    def test_preferences_keep_unknown_keys(self) -> None:
        prefs = SessionPreferences.model_validate({"lastModel": "m", "futureSetting": 1})
        assert prefs.to_json_dict()["futureSetting"] == 1

    def test_update_emptiness(self) -> None:
        assert SessionUpdate().is_empty()
        assert not SessionUpdate(preferences={"lastModel": "m"}).is_empty()
        assert not SessionUpdate(starred=False).is_empty()

    def test_either_deletion_mark_means_deleted(self) -> None:
        by_status = SessionMetadata.model_validate({"sessionId": "s1", "userId": "u1", "status": "deleted"})
        by_flag = SessionMetadata.model_validate({"sessionId": "s1", "userId": "u1", "deleted": True})
        for session in (by_status, by_flag):
            assert (session.deleted, session.status) == (True, SessionStatus.DELETED)
        revived = SessionMetadata.model_validate(by_flag.model_dump() | {"status": SessionStatus.ACTIVE})
        assert (revived.deleted, revived.status) == (True, SessionStatus.DELETED)
        assert SessionUpdate(status=SessionStatus.DELETED).deletes()
        assert not SessionUpdate(status=SessionStatus.ARCHIVED).deletes()

    def test_update_title_bounds(self) -> None:
        with pytest.raises(ValidationError):
            SessionUpdate(title="")


class TestContentBlocks:
    def test_block_needs_its_payload(self) -> None:
        with pytest.raises(ValidationError):
            ContentBlock(type="toolUse")

    def test_camel_case_payload_names(self) -> None:
        block = ContentBlock(type="toolUse", tool_use=ToolUse(tool_use_id="t1", name="calc", input={"a": 1}))
        assert block.to_json_dict()["toolUse"] == {"toolUseId": "t1", "name": "calc", "input": {"a": 1}}

    def test_attachment_blocks_hold_references_not_bytes(self) -> None:
        block = ContentBlock(type="image", image=Attachment(format="png", name="cat", upload_id="u_1"))
        assert "data" not in block.to_json_dict()["image"]

    def test_message_exposes_citations_from_metadata(self) -> None:
        message = Message.model_validate(
            {
                "id": "msg-s-1",
                "index": 1,
                "role": "assistant",
                "content": [{"type": "text", "text": "hi"}],
                "metadata": {
                    "citations": [{"assistantId": "a", "documentId": "d", "fileName": "f", "text": "t"}]
                },
            }
        )
        assert message.citations is not None
        assert message.citations[0].file_name == "f"
        assert Message.model_validate({**message.to_json_dict(), "metadata": None}).citations is None
        assert MessageMetadata().citations is None
