"""Sessions over HTTP on both backends: list, metadata get/put (merging), delete, bulk delete, messages."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app_api.sessions import service as sessions_service
from chat_core.costs import CostBreakdown, TokenUsage
from chat_core.ids import SessionId, UserId
from chat_core.messages import Attachment, ContentBlock, MessageDraft, MessageMetadata
from chat_storage import open_storage

Api = Callable[..., Any]
CheckError = Callable[..., dict[str, Any]]


def put_metadata(client: httpx.Client, session_id: str, **fields: Any) -> dict[str, Any]:
    response = client.put(f"/sessions/{session_id}/metadata", json=fields)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestMetadata:
    def test_put_creates_a_missing_session_with_defaults(self, api: Api) -> None:
        body = put_metadata(api(), "s-1", starred=True)
        assert body["sessionId"] == "s-1"
        assert body["title"] == "New Conversation"
        assert body["messageCount"] == 0
        assert body["starred"] is True
        assert "userId" not in body

    @pytest.mark.parametrize(
        ("field", "value"), [("lastTemperature", False), ("starred", 0), ("title", None), ("tags", "work")]
    )
    def test_a_wrong_type_or_null_is_422_naming_the_field(
        self, api: Api, check_error: CheckError, field: str, value: object
    ) -> None:
        alice = api()
        error = check_error(alice.put("/sessions/s-1/metadata", json={field: value}), 422, "validation_error")
        assert error["field"] == field
        check_error(alice.get("/sessions/s-1/metadata"), 404, "not_found")  # nothing was written

    def test_get_returns_what_put_stored(self, api: Api) -> None:
        alice = api()
        put_metadata(alice, "s-1", title="Trip plans", tags=["travel"], lastModel="m-1")
        body = alice.get("/sessions/s-1/metadata").json()
        assert body["title"] == "Trip plans"
        assert body["tags"] == ["travel"]
        assert body["preferences"]["lastModel"] == "m-1"

    def test_preferences_merge_field_by_field(self, api: Api) -> None:
        alice = api()
        put_metadata(alice, "s-1", lastModel="m-1", enabledTools=["calc"])
        body = put_metadata(alice, "s-1", lastTemperature=0.3, preferences={"customKey": "kept"})
        assert body["preferences"]["lastModel"] == "m-1"
        assert body["preferences"]["enabledTools"] == ["calc"]
        assert body["preferences"]["lastTemperature"] == 0.3
        assert body["preferences"]["customKey"] == "kept"

    @pytest.mark.asyncio
    async def test_concurrent_puts_never_lose_a_field(self, api: Api) -> None:
        alice = api()
        put_metadata(alice, "s-1")
        keys = [f"key{index}" for index in range(8)]
        async with httpx.AsyncClient(
            base_url=str(alice.base_url), headers=alice.headers, timeout=30
        ) as client:
            responses = await asyncio.gather(
                *(client.put("/sessions/s-1/metadata", json={"preferences": {key: key}}) for key in keys)
            )
        assert all(response.status_code == 200 for response in responses)
        preferences = alice.get("/sessions/s-1/metadata").json()["preferences"]
        assert {key: preferences.get(key) for key in keys} == {key: key for key in keys}

    def test_missing_session_is_404(self, api: Api, check_error: CheckError) -> None:
        check_error(api().get("/sessions/nope/metadata"), 404, "not_found")

    def test_invalid_fields_are_422_naming_the_field(self, api: Api, check_error: CheckError) -> None:
        error = check_error(api().put("/sessions/s-1/metadata", json={"title": ""}), 422, "validation_error")
        assert error["field"] == "title"

    def test_a_malformed_id_is_422(self, api: Api, check_error: CheckError) -> None:
        check_error(api().get("/sessions/bad%20id/metadata"), 422, "validation_error")


class TestList:
    def test_newest_first_active_only_paginated(self, api: Api) -> None:
        alice = api()
        for index in range(5):
            put_metadata(alice, f"s-{index}")
        assert alice.delete("/sessions/s-2").status_code == 204
        first = alice.get("/sessions", params={"limit": 3}).json()
        assert [item["sessionId"] for item in first["sessions"]] == ["s-4", "s-3", "s-1"]
        assert first["nextToken"]
        second = alice.get("/sessions", params={"limit": 3, "next_token": first["nextToken"]}).json()
        assert [item["sessionId"] for item in second["sessions"]] == ["s-0"]
        assert second["nextToken"] is None

    def test_limit_is_bounded(self, api: Api, check_error: CheckError) -> None:
        check_error(api().get("/sessions", params={"limit": 1001}), 422, "validation_error")

    def test_a_foreign_cursor_is_422(self, api: Api, check_error: CheckError) -> None:
        alice, bob = api("alice"), api("bob")
        for index in range(3):
            put_metadata(alice, f"s-{index}")
        token = alice.get("/sessions", params={"limit": 1}).json()["nextToken"]
        check_error(bob.get("/sessions", params={"next_token": token}), 422, "validation_error")


class TestDelete:
    def test_soft_delete_hides_the_session(self, api: Api, check_error: CheckError) -> None:
        alice = api()
        put_metadata(alice, "s-1")
        assert alice.delete("/sessions/s-1").status_code == 204
        check_error(alice.get("/sessions/s-1/metadata"), 404, "not_found")
        check_error(alice.delete("/sessions/s-1"), 404, "not_found")
        check_error(alice.put("/sessions/s-1/metadata", json={"title": "back"}), 404, "not_found")

    def test_deleting_a_session_deletes_its_files(self, api: Api) -> None:
        alice = api()
        put_metadata(alice, "s-1")
        kept = upload_file(alice, "s-2", b"other session")
        for _ in range(2):
            upload_file(alice, "s-1", b"hello")
        assert alice.get("/files/quota").json()["fileCount"] == 3
        assert alice.delete("/sessions/s-1").status_code == 204
        quota = alice.get("/files/quota").json()
        assert quota == {"usedBytes": len(b"other session"), "maxBytes": quota["maxBytes"], "fileCount": 1}
        assert [item["uploadId"] for item in alice.get("/files").json()["files"]] == [kept]

    def test_status_deleted_is_a_deletion_everywhere(
        self, api: Api, live: Any, check_error: CheckError
    ) -> None:
        """One rule: `PUT {"status": "deleted"}` deletes exactly as `DELETE` does, for good."""
        alice = api()
        put_metadata(alice, "s-1", title="Before")
        upload_file(alice, "s-1", b"hello")
        deleted = put_metadata(alice, "s-1", status="deleted", title="Renamed on the way out")
        assert (deleted["status"], deleted["deleted"], deleted["title"]) == (
            "deleted",
            True,
            "Renamed on the way out",
        )
        assert deleted["deletedAt"] is not None
        check_error(alice.get("/sessions/s-1/metadata"), 404, "not_found")
        check_error(alice.get("/sessions/s-1/messages"), 404, "not_found")
        assert alice.get("/sessions").json()["sessions"] == []
        assert alice.get("/files/quota").json()["fileCount"] == 0
        check_error(alice.put("/sessions/s-1/metadata", json={"status": "active"}), 404, "not_found")
        check_error(alice.delete("/sessions/s-1"), 404, "not_found")
        check_error(alice.put("/sessions/never/metadata", json={"status": "deleted"}), 404, "not_found")

        async def stored() -> Any:
            async with open_storage(live.storage_config()) as storage:
                return await storage.sessions.get(UserId(alice.user_id), SessionId("s-1"))

        session = asyncio.run(stored())
        assert (session.deleted, session.status.value) == (True, "deleted")

    def test_bulk_delete_reports_each_id(self, api: Api) -> None:
        alice = api()
        put_metadata(alice, "s-1")
        put_metadata(alice, "s-2")
        response = alice.post(
            "/sessions/bulk-delete", json={"sessionIds": ["s-1", "missing", "s-2", "bad id"]}
        )
        body = response.json()
        assert body["deletedCount"] == 2
        assert body["failedCount"] == 2
        assert [(item["sessionId"], item["success"]) for item in body["results"]] == [
            ("s-1", True),
            ("missing", False),
            ("s-2", True),
            ("bad id", False),
        ]
        assert all(item["error"] for item in body["results"] if not item["success"])

    def test_bulk_delete_takes_1_to_20_ids(self, api: Api, check_error: CheckError) -> None:
        alice = api()
        check_error(alice.post("/sessions/bulk-delete", json={"sessionIds": []}), 422, "validation_error")
        ids = [f"s-{index}" for index in range(21)]
        check_error(alice.post("/sessions/bulk-delete", json={"sessionIds": ids}), 422, "validation_error")


def upload_file(client: httpx.Client, session_id: str, data: bytes) -> str:
    presign = client.post(
        "/files/presign",
        json={
            "sessionId": session_id,
            "filename": "note.txt",
            "mimeType": "text/plain",
            "sizeBytes": len(data),
        },
    ).json()
    put = httpx.put(presign["presignedUrl"], content=data, headers={"Content-Type": "text/plain"})
    assert put.status_code in (200, 204), put.text
    assert client.post(f"/files/{presign['uploadId']}/complete").status_code == 200
    upload_id: str = presign["uploadId"]
    return upload_id


class TestMessages:
    @pytest.mark.asyncio
    async def test_messages_oldest_first_with_metadata(self, api: Api, live: Any) -> None:
        alice = api()
        put_metadata(alice, "s-1")
        start = datetime.now(UTC)
        drafts = [
            MessageDraft(role="user" if index % 2 == 0 else "assistant", content=[ContentBlock.of_text(f"m{index}")],
                         created_at=start + timedelta(seconds=index))
            for index in range(3)
        ]  # fmt: skip
        async with open_storage(live.storage_config()) as storage:
            await storage.messages.append(UserId(alice.user_id), SessionId("s-1"), drafts)
        first = alice.get("/sessions/s-1/messages", params={"limit": 2}).json()
        assert [item["id"] for item in first["messages"]] == ["msg-s-1-0", "msg-s-1-1"]
        assert first["messages"][0]["content"] == [
            {"type": "text", "text": "m0", "toolUse": None, "toolResult": None, "image": None, "document": None,
             "reasoningContent": None}
        ]  # fmt: skip
        assert first["messages"][1]["role"] == "assistant"
        second = alice.get("/sessions/s-1/messages", params={"next_token": first["nextToken"]}).json()
        assert [item["id"] for item in second["messages"]] == ["msg-s-1-2"]

    def test_messages_of_a_missing_session_is_404(self, api: Api, check_error: CheckError) -> None:
        check_error(api().get("/sessions/none/messages"), 404, "not_found")

    @pytest.mark.asyncio
    async def test_cost_is_the_total_in_usd_with_the_breakdown_beside_it(self, api: Api, live: Any) -> None:
        alice = api()
        put_metadata(alice, "s-1")
        reply = MessageDraft(
            role="assistant",
            content=[ContentBlock.of_text("answer")],
            metadata=MessageMetadata(
                token_usage=TokenUsage(input_tokens=1000, output_tokens=100, total_tokens=1100),
                cost=CostBreakdown(input_cost=0.003, output_cost=0.0015, total_cost=0.0045),
            ),
        )
        async with open_storage(live.storage_config()) as storage:
            await storage.messages.append(UserId(alice.user_id), SessionId("s-1"), [reply])
        metadata = alice.get("/sessions/s-1/messages").json()["messages"][0]["metadata"]
        assert metadata["cost"] == 0.0045
        assert metadata["costBreakdown"] == {
            "inputCost": 0.003,
            "outputCost": 0.0015,
            "cacheWriteCost": 0.0,
            "cacheReadCost": 0.0,
            "totalCost": 0.0045,
        }

    @pytest.mark.asyncio
    async def test_uploaded_files_of_a_user_message_come_back_as_attachment_badges(
        self, api: Api, live: Any
    ) -> None:
        alice = api()
        put_metadata(alice, "s-1")
        document = Attachment(format="pdf", name="manual.pdf", upload_id="up-1", size_bytes=2048)
        image = Attachment(format="png", name="photo.png", upload_id="up-2", size_bytes=512)
        question = MessageDraft(
            role="user",
            content=[
                ContentBlock.of_text("What does it say?"),
                ContentBlock(type="document", document=document),
                ContentBlock(type="image", image=image),
            ],
        )
        async with open_storage(live.storage_config()) as storage:
            await storage.messages.append(UserId(alice.user_id), SessionId("s-1"), [question])
        content = alice.get("/sessions/s-1/messages").json()["messages"][0]["content"]
        badges = [block["fileAttachment"] for block in content if block["type"] == "fileAttachment"]
        assert badges == [
            {"uploadId": "up-1", "filename": "manual.pdf", "mimeType": "application/pdf", "sizeBytes": 2048},
            {"uploadId": "up-2", "filename": "photo.png", "mimeType": "image/png", "sizeBytes": 512},
        ]
        assert [block["type"] for block in content[2:]] == ["text", "document", "image"]

    @pytest.mark.asyncio
    async def test_without_a_limit_the_whole_conversation_comes_back(
        self, api: Api, live: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(sessions_service, "MAX_PAGE_SIZE", 2)  # read it in several storage pages
        alice = api()
        put_metadata(alice, "s-1")
        drafts = [
            MessageDraft(role="user", content=[ContentBlock.of_text(f"m{index}")]) for index in range(5)
        ]
        async with open_storage(live.storage_config()) as storage:
            await storage.messages.append(UserId(alice.user_id), SessionId("s-1"), drafts)
        body = alice.get("/sessions/s-1/messages").json()
        assert [item["id"] for item in body["messages"]] == [f"msg-s-1-{index}" for index in range(5)]
        assert body["nextToken"] is None

    @pytest.mark.asyncio
    async def test_a_conversation_beyond_the_bound_ends_with_a_token(
        self, api: Api, live: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(sessions_service, "MAX_PAGE_SIZE", 2)
        monkeypatch.setattr(sessions_service, "WHOLE_CONVERSATION_LIMIT", 3)
        alice = api()
        put_metadata(alice, "s-1")
        drafts = [
            MessageDraft(role="user", content=[ContentBlock.of_text(f"m{index}")]) for index in range(5)
        ]
        async with open_storage(live.storage_config()) as storage:
            await storage.messages.append(UserId(alice.user_id), SessionId("s-1"), drafts)
        first = alice.get("/sessions/s-1/messages").json()
        assert [item["id"] for item in first["messages"]] == ["msg-s-1-0", "msg-s-1-1", "msg-s-1-2"]
        rest = alice.get("/sessions/s-1/messages", params={"next_token": first["nextToken"]}).json()
        assert [item["id"] for item in rest["messages"]] == ["msg-s-1-3", "msg-s-1-4"]


RLO = "\u202e"


class TestBounds:
    def test_a_500_kb_tag_is_a_422_naming_the_field_before_storage(
        self, api: Api, check_error: CheckError
    ) -> None:
        alice = api()
        error = check_error(
            alice.put("/sessions/s-1/metadata", json={"tags": ["x" * 500_000]}), 422, "validation_error"
        )
        assert error["field"] == "tags.0"
        check_error(alice.get("/sessions/s-1/metadata"), 404, "not_found")  # nothing was stored

    def test_preferences_stay_bounded_across_updates(self, api: Api, check_error: CheckError) -> None:
        alice = api()
        for batch in range(4):
            put_metadata(alice, "s-1", preferences={f"k{batch}x{index}": index for index in range(16)})
        error = check_error(
            alice.put("/sessions/s-1/metadata", json={"preferences": {"oneMore": 1}}), 422, "validation_error"
        )
        assert error["field"] == "preferences"
        huge = {"preferences": {"big": "x" * 200_000}}
        check_error(alice.put("/sessions/s-2/metadata", json=huge), 422, "validation_error")

    def test_the_largest_legitimate_session_is_stored(self, api: Api) -> None:
        """Every bound at its maximum, in 4-byte characters, still fits one DynamoDB item (400 KB)."""
        wide = "\U0001f600"
        body = put_metadata(
            api(),
            "s-1",
            title=wide * 200,
            tags=[wide * 64] * 50,
            customPromptText=wide * 20_000,
            enabledTools=["t" * 256] * 200,
            lastModel="m" * 256,
        )
        assert (len(body["tags"]), len(body["preferences"]["customPromptText"])) == (50, 20_000)

    def test_control_and_bidi_characters_never_reach_a_displayed_name(self, api: Api) -> None:
        alice = api()
        body = put_metadata(alice, "s-1", title=f"Invoice{RLO}fdp.exe\x00", tags=["a\nb", f"c{RLO}"])
        assert (body["title"], body["tags"]) == ("Invoicefdp.exe", ["a b", "c"])
        assistant = alice.post("/assistants", json={"name": f"Help\x00er{RLO}", "tags": ["t\x07"]}).json()
        assert (assistant["name"], assistant["tags"]) == ("Helper", ["t"])
        presign = alice.post(
            "/files/presign",
            json={
                "sessionId": "s-1",
                "filename": f"photo{RLO}gnp.exe",
                "mimeType": "text/plain",
                "sizeBytes": 3,
            },
        ).json()
        upload = alice.get("/files", params={"sessionId": "s-1", "status": "any"}).json()
        assert presign["uploadId"]
        assert all("\u202e" not in item["filename"] for item in upload["files"])


class TestSessionPageJson:
    def test_the_listing_json_is_what_the_response_model_gives(self) -> None:
        import json
        from datetime import UTC, datetime

        from app_api.sessions.schemas import SessionPage, SessionRead
        from chat_core.pagination import Page
        from chat_core.sessions import SessionMetadata

        sessions = [
            SessionMetadata.model_validate(
                {
                    "session_id": "s-1",
                    "user_id": "alice",
                    "title": 'Été « ünïcode » \u2028 "quoted"',
                    "created_at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
                    "last_message_at": datetime(2026, 1, 3, tzinfo=UTC),
                    "message_count": 3,
                    "tags": ["a", "b"],
                    "preferences": {"lastModel": "m", "lastTemperature": 0.7, "customKey": {"x": [1, None]}},
                }
            ),
            SessionMetadata.model_validate({"session_id": "s-2", "user_id": "alice", "starred": True}),
        ]
        for cursor in ("next-page", None):
            page = Page[SessionMetadata](items=sessions, next_cursor=cursor)
            expected = SessionPage(sessions=[SessionRead.of(item) for item in sessions], next_token=cursor)
            assert json.loads(SessionPage.json_of(page)) == expected.model_dump(mode="json", by_alias=True)
            assert b"alice" not in SessionPage.json_of(page)
