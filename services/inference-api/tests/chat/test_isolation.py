"""What one user can never reach of another's: sessions, assistants, uploads; and assistant binding."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from inference_testing import Service, post_turn, text_cycle, validate_events

from chat_core.assistants import Assistant, AssistantStatus, Visibility
from chat_core.files import FileUpload
from chat_core.ids import AssistantId, SessionId, UploadId, UserId

Headers = Callable[..., dict[str, str]]
ALICE, BOB = UserId("alice"), UserId("bob")


async def add_assistant(
    service: Service, assistant_id: str, *, owner: UserId = ALICE, visibility: Visibility = Visibility.PRIVATE
) -> Assistant:
    assistant = Assistant(
        assistant_id=AssistantId(assistant_id),
        owner_id=owner,
        name=f"Assistant {assistant_id}",
        instructions=f"Always answer as {assistant_id}.",
        visibility=visibility,
        status=AssistantStatus.COMPLETE,
    )
    return await service.storage.assistants.put(assistant)


async def add_upload(
    service: Service, upload_id: str, *, owner: UserId = ALICE, ready: bool = True
) -> FileUpload:
    data = b"The quarterly report says revenue grew."
    upload = FileUpload(
        upload_id=UploadId(upload_id),
        user_id=owner,
        session_id=SessionId("s-1"),
        filename="report.txt",
        mime_type="text/plain",
        size_bytes=len(data),
        storage_key=f"user-files/{owner}/s-1/{upload_id}/report.txt",
    )
    await service.storage.files.reserve(upload, quota_bytes=10_000_000)
    await service.storage.blobs.put(upload.storage_key, data, content_type="text/plain")
    if ready:
        await service.storage.files.mark_ready(owner, upload.upload_id)
    return upload


class TestSessions:
    @pytest.mark.asyncio
    async def test_another_users_session_id_never_reaches_their_history(
        self, service: Service, auth: Headers
    ) -> None:
        async with service.client() as client:
            assert (
                await post_turn(client, auth("alice"), session_id="shared-id", message="Alice's secret")
            ).status == 200
            bob = await post_turn(client, auth("bob"), session_id="shared-id", message="Bob here")
        assert bob.status == 200
        sent = service.scripted.models[1].calls[0]["messages"]
        assert [m["content"][0]["text"] for m in sent] == ["Bob here"]
        alice_messages = (await service.storage.messages.list(ALICE, SessionId("shared-id"))).items
        assert [m.content[0].text for m in alice_messages if m.role == "user"] == ["Alice's secret"]
        alice_session = await service.storage.sessions.get(ALICE, SessionId("shared-id"))
        bob_session = await service.storage.sessions.get(BOB, SessionId("shared-id"))
        assert alice_session is not None
        assert bob_session is not None
        assert (alice_session.message_count, bob_session.message_count) == (1, 1)

    @pytest.mark.asyncio
    async def test_a_deleted_session_is_404(self, service: Service, auth: Headers) -> None:
        async with service.client() as client:
            assert (await post_turn(client, auth("alice"), session_id="gone", message="Hi")).status == 200
            await service.storage.sessions.soft_delete(ALICE, SessionId("gone"))
            turn = await post_turn(client, auth("alice"), session_id="gone", message="Hi again")
        assert turn.status == 404
        assert turn.error is not None
        assert turn.error["code"] == "not_found"


class TestAssistants:
    @pytest.mark.asyncio
    async def test_a_private_assistant_of_someone_else_is_404(self, service: Service, auth: Headers) -> None:
        await add_assistant(service, "ast-private")
        async with service.client() as client:
            turn = await post_turn(
                client, auth("bob"), session_id="s-1", message="Hi", assistant_id="ast-private"
            )
        assert turn.status == 404
        assert turn.error is not None
        assert (turn.error["code"], turn.error["message"]) == (
            "not_found",
            "Assistant 'ast-private' was not found.",
        )
        assert service.scripted.models == []
        bob_session = await service.storage.sessions.get(BOB, SessionId("s-1"))
        assert bob_session is None or bob_session.preferences.assistant_id is None

    @pytest.mark.asyncio
    async def test_shared_and_public_assistants_can_be_used(self, service: Service, auth: Headers) -> None:
        await add_assistant(service, "ast-shared", visibility=Visibility.SHARED)
        await service.storage.assistants.add_shares(AssistantId("ast-shared"), ["bob@example.com"])
        await add_assistant(service, "ast-public", visibility=Visibility.PUBLIC)
        async with service.client() as client:
            shared = await post_turn(
                client, auth("bob"), session_id="s-a", message="Hi", assistant_id="ast-shared"
            )
            public = await post_turn(
                client, auth("carol"), session_id="s-b", message="Hi", assistant_id="ast-public"
            )
            not_shared = await post_turn(
                client, auth("carol"), session_id="s-c", message="Hi", assistant_id="ast-shared"
            )
        assert (shared.status, public.status, not_shared.status) == (200, 200, 404)
        share = await service.storage.assistants.get_share(AssistantId("ast-shared"), "bob@example.com")
        assert share is not None
        assert share.first_interacted
        system_prompt = service.scripted.models[0].calls[0]["system_prompt"]
        assert "## Assistant-Specific Instructions\n\nAlways answer as ast-shared." in system_prompt

    @pytest.mark.asyncio
    async def test_the_first_turn_binds_the_assistant_for_good(self, service: Service, auth: Headers) -> None:
        await add_assistant(service, "ast-one")
        await add_assistant(service, "ast-two")
        async with service.client() as client:
            first = await post_turn(
                client, auth("alice"), session_id="bound", message="Hi", assistant_id="ast-one"
            )
            changed = await post_turn(
                client, auth("alice"), session_id="bound", message="Hi", assistant_id="ast-two"
            )
            kept = await post_turn(client, auth("alice"), session_id="bound", message="Still you?")
        assert first.status == 200
        assert changed.status == 400
        assert changed.error is not None
        assert (changed.error["code"], changed.error["field"]) == ("bad_request", "assistant_id")
        assert changed.error["detail"] == {"boundAssistantId": "ast-one"}
        assert kept.status == 200
        assert "Always answer as ast-one." in service.scripted.models[1].calls[0]["system_prompt"]
        session = await service.storage.sessions.get(ALICE, SessionId("bound"))
        assert session is not None
        assert (session.preferences.assistant_id, session.message_count) == ("ast-one", 2)

    @pytest.mark.asyncio
    async def test_an_assistant_cannot_join_a_session_that_has_messages(
        self, service: Service, auth: Headers
    ) -> None:
        await add_assistant(service, "ast-late")
        async with service.client() as client:
            assert (await post_turn(client, auth("alice"), session_id="plain", message="Hi")).status == 200
            late = await post_turn(
                client, auth("alice"), session_id="plain", message="Hi", assistant_id="ast-late"
            )
        assert late.status == 400
        assert late.error is not None
        assert late.error["field"] == "assistant_id"


class TestUploads:
    @pytest.mark.asyncio
    async def test_an_upload_becomes_a_document_block_and_a_reference(
        self, service: Service, auth: Headers
    ) -> None:
        await add_upload(service, "up-1")
        service.scripted.script = lambda: [text_cycle("Revenue grew.")]
        async with service.client() as client:
            turn = await post_turn(
                client, auth("alice"), session_id="s-1", message="Summarise", file_upload_ids=["up-1"]
            )
        assert turn.status == 200
        validate_events(turn.events)
        prompt = service.scripted.models[0].calls[0]["messages"][-1]["content"]
        assert prompt[0] == {"text": "Summarise"}
        assert prompt[1]["document"]["name"] == "report_txt"
        assert prompt[1]["document"]["format"] == "txt"
        assert prompt[1]["document"]["source"]["bytes"] == b"The quarterly report says revenue grew."
        stored = (await service.storage.messages.list(ALICE, SessionId("s-1"))).items[0]
        assert stored.content[0].text == "Summarise"
        assert stored.content[1].document is not None
        assert stored.content[1].document.model_dump() == {
            "format": "txt",
            "name": "report.txt",
            "upload_id": "up-1",
            "size_bytes": 39,
        }
        assert "revenue" not in stored.model_dump_json(), "no bytes in history"

    @pytest.mark.asyncio
    async def test_someone_elses_upload_is_404(self, service: Service, auth: Headers) -> None:
        await add_upload(service, "up-alice")
        async with service.client() as client:
            turn = await post_turn(
                client, auth("bob"), session_id="s-1", message="Hi", file_upload_ids=["up-alice"]
            )
        assert turn.status == 404
        assert turn.error is not None
        assert (turn.error["code"], turn.error["field"]) == ("not_found", "fileUploadIds")
        assert service.scripted.models == []

    @pytest.mark.asyncio
    async def test_an_upload_that_is_not_ready_is_409(self, service: Service, auth: Headers) -> None:
        await add_upload(service, "up-pending", ready=False)
        async with service.client() as client:
            turn = await post_turn(
                client, auth("alice"), session_id="s-1", message="Hi", file_upload_ids=["up-pending"]
            )
        assert turn.status == 409
        assert turn.error is not None
        assert turn.error["code"] == "conflict"
