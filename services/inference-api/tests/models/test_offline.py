"""The offline model, alone and end to end on the embedded default (SQLite, local MiniLM index)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from inference_testing import (
    managed_model,
    post_turn,
    seed_tools,
    serve_app,
    storage_for,
    validate_events,
)

from chat_agent.models import AttachmentText, Grounding, OfflineExtractiveModel, Passage
from chat_agent.models.offline import compose_answer
from chat_core.assistants import Assistant, Visibility
from chat_core.documents import Document, DocumentStatus
from chat_core.files import FileUpload
from chat_core.ids import AssistantId, DocumentId, SessionId, UploadId, UserId
from chat_rag import open_knowledge_base
from inference_api.config import Settings
from inference_api.main import create_app

Headers = Callable[..., dict[str, str]]
ALICE = UserId("alice")
HANDBOOK = b"""# Returns

Customers may return any item within 30 days of purchase. A receipt is required for every return.

# Shipping

Standard shipping takes five business days. Express shipping arrives the next day.
"""


class TestComposeAnswer:
    def test_quotes_matching_passages_with_their_numbers(self) -> None:
        grounding = Grounding(
            "How many days do I have to return an item?",
            passages=(
                Passage(1, "handbook.md", "Customers may return any item within 30 days. Shipping is free."),
                Passage(2, "other.md", "Nothing relevant here at all."),
            ),
        )
        answer = compose_answer(grounding)
        assert "- Customers may return any item within 30 days. [1]" in answer
        assert "Shipping is free" not in answer
        assert "[2]" not in answer

    def test_quotes_attachments_and_names_what_it_cannot_read(self) -> None:
        grounding = Grounding(
            "What was the revenue growth?",
            attachments=(
                AttachmentText("q3.txt", "Revenue growth was 12 percent."),
                AttachmentText("chart.png", None),
            ),
        )
        answer = compose_answer(grounding)
        assert "- Revenue growth was 12 percent. (q3.txt)" in answer
        assert "I cannot read chart.png" in answer

    def test_says_no_model_is_configured_when_there_is_nothing_to_quote(self) -> None:
        assert "No language model is configured" in compose_answer(Grounding("Write me a poem"))


class TestStream:
    @pytest.mark.asyncio
    async def test_streams_several_deltas_with_usage(self) -> None:
        model = OfflineExtractiveModel(model_id="offline-extractive", grounding=Grounding("Write a poem"))
        events = [
            event
            async for event in model.stream(
                [{"role": "user", "content": [{"text": "Write a poem"}]}], None, "system"
            )
        ]
        deltas = [event for event in events if "contentBlockDelta" in event]
        assert len(deltas) > 3
        assert list(events[0]) == ["messageStart"]
        usage = events[-1]["metadata"]["usage"]
        assert usage["inputTokens"] > 0
        assert usage["outputTokens"] > 0
        assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]

    @pytest.mark.asyncio
    async def test_calls_the_calculator_for_arithmetic(self) -> None:
        model = OfflineExtractiveModel(
            model_id="offline-extractive", grounding=Grounding("what is (2 + 3) * 4?")
        )
        specs = [{"name": "calculator", "description": "", "inputSchema": {"json": {}}}]
        events = [
            event async for event in model.stream([{"role": "user", "content": [{"text": "q"}]}], specs)
        ]
        assert {
            "contentBlockDelta": {"delta": {"toolUse": {"input": '{"expression": "(2 + 3) * 4"}'}}}
        } in events
        assert {"messageStop": {"stopReason": "tool_use"}} in events


@pytest.mark.asyncio
async def test_a_conversation_with_citations_an_attachment_and_a_tool(
    settings: Settings, auth: Headers
) -> None:
    """The issue's bar: a real SSE client, the offline model, the embedded default, several turns."""
    async with storage_for(settings) as storage:
        await storage.managed_models.create(managed_model())
        await seed_tools(storage)
        assistant = await storage.assistants.put(
            Assistant(
                assistant_id=AssistantId("ast-shop"),
                owner_id=UserId("owner"),
                name="Shop helper",
                instructions="Answer questions about the shop.",
                visibility=Visibility.PUBLIC,
            )
        )
        await storage.documents.create(
            Document(
                document_id=DocumentId("DOC-handbook"),
                assistant_id=assistant.assistant_id,
                filename="handbook.md",
                content_type="text/markdown",
                size_bytes=len(HANDBOOK),
                storage_key="assistants/ast-shop/documents/DOC-handbook/handbook.md",
                status=DocumentStatus.COMPLETE,
            )
        )
        async with open_knowledge_base(settings.rag_config()) as knowledge:
            await knowledge.ingest(
                assistant.assistant_id,
                "DOC-handbook",
                filename="handbook.md",
                content_type="text/markdown",
                data=HANDBOOK,
            )
        note = b"Order 1234 was shipped by express courier on Monday."
        upload = FileUpload(
            upload_id=UploadId("up-note"),
            user_id=ALICE,
            session_id=SessionId("chat"),
            filename="order note.txt",
            mime_type="text/plain",
            size_bytes=len(note),
            storage_key="user-files/alice/chat/up-note/order note.txt",
        )
        await storage.files.reserve(upload, quota_bytes=1_000_000)
        await storage.blobs.put(upload.storage_key, note, content_type="text/plain")
        await storage.files.mark_ready(ALICE, upload.upload_id)

        with serve_app(create_app(settings)) as url:
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                first = await post_turn(
                    client,
                    auth("alice"),
                    session_id="chat",
                    message="How many days do I have to return an item?",
                    assistant_id="ast-shop",
                )
                second = await post_turn(
                    client,
                    auth("alice"),
                    session_id="chat",
                    message="How was order 1234 shipped?",
                    file_upload_ids=["up-note"],
                )
                third = await post_turn(
                    client,
                    auth("alice"),
                    session_id="chat",
                    message="What is 17 * 3?",
                    enabled_tools=["calculator"],
                )
        for turn in (first, second, third):
            assert turn.status == 200, turn.error
            validate_events(turn.events)

        citations = first.of("citation")
        assert citations
        assert citations[0]["assistantId"] == "ast-shop"
        assert citations[0]["fileName"] == "handbook.md"
        assert "30 days" in first.text()
        assert "[1]" in first.text() or "[2]" in first.text()
        assert "express courier" in second.text()
        assert "(order note.txt)" in second.text()
        assert third.of("tool_use")[0]["tool_use"]["input"] == {"expression": "17 * 3"}
        assert third.of("tool_result")[0]["tool_result"]["content"] == [{"text": "51"}]
        assert "51" in third.text()

        session = await storage.sessions.get(ALICE, SessionId("chat"))
        assert session is not None
        assert (session.message_count, session.preferences.assistant_id) == (3, "ast-shop")
        messages = (await storage.messages.list(ALICE, SessionId("chat"))).items
        assert [m.content[0].text for m in messages if m.role == "user"] == [
            "How many days do I have to return an item?",
            "How was order 1234 shipped?",
            "What is 17 * 3?",
        ], "the user's own text, not the augmented prompt"
        assert messages[1].citations is not None
        assert messages[1].citations[0].document_id == "DOC-handbook"
