"""Turns over real HTTP with the scripted model: event order and schema, persistence, cost, errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from inference_testing import SCRIPTED_MODEL_ID, Service, post_turn, text_cycle, tool_cycle, validate_events
from strands.types.exceptions import ModelThrottledException

from chat_core.assistants import Assistant
from chat_core.costs import period_of
from chat_core.documents import Document, DocumentStatus
from chat_core.ids import AssistantId, DocumentId, SessionId, UserId
from chat_core.messages import MessageStatus
from chat_rag import open_knowledge_base

ALICE = UserId("alice")


class TestTextTurn:
    @pytest.mark.asyncio
    async def test_streams_events_in_protocol_order(
        self, service: Service, auth: Callable[..., dict[str, str]]
    ) -> None:
        service.scripted.script = lambda: [text_cycle("Hello there, dear friend.")]
        async with service.client() as client:
            turn = await post_turn(
                client, auth("alice"), session_id="s-1", message="Hi!", model_id=SCRIPTED_MODEL_ID
            )
        assert turn.status == 200
        assert turn.headers["content-type"].startswith("text/event-stream")
        assert turn.headers["x-session-id"] == "s-1"
        assert turn.headers["cache-control"] == "no-cache"
        assert turn.headers["x-request-id"]
        validate_events(turn.events)
        assert turn.names() == [
            "message_start",
            "content_block_start",
            *["content_block_delta"] * 4,
            "content_block_stop",
            "message_stop",
            "metadata",
            "metadata",
            "done",
        ]
        assert turn.text() == "Hello there, dear friend."
        final = turn.of("metadata")[-1]
        assert final["usage"] == {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15}
        assert final["cost"] == pytest.approx(10 * 3 / 1e6 + 5 * 15 / 1e6)
        assert final["messageId"] == "msg-s-1-1"
        assert final["metrics"]["latencyMs"] >= final["metrics"]["timeToFirstByteMs"] >= 0

    @pytest.mark.asyncio
    async def test_stores_the_turn_its_cost_and_the_session(
        self, service: Service, auth: Callable[..., dict[str, str]]
    ) -> None:
        service.scripted.script = lambda: [text_cycle("Stored answer.")]
        async with service.client() as client:
            turn = await post_turn(
                client,
                auth("alice"),
                session_id="s-1",
                message="Remember me",
                model_id=SCRIPTED_MODEL_ID,
                temperature=0.2,
            )
        assert turn.status == 200
        messages = (await service.storage.messages.list(ALICE, SessionId("s-1"))).items
        assert [(m.role, m.index, m.status) for m in messages] == [
            ("user", 0, MessageStatus.COMPLETE),
            ("assistant", 1, MessageStatus.COMPLETE),
        ]
        assert [block.text for block in messages[0].content] == ["Remember me"]
        assert [block.text for block in messages[1].content] == ["Stored answer."]
        metadata = messages[1].metadata
        assert metadata is not None
        assert metadata.token_usage is not None
        assert metadata.model_info is not None
        assert (metadata.token_usage.input_tokens, metadata.token_usage.output_tokens) == (10, 5)
        assert metadata.model_info.model_id == SCRIPTED_MODEL_ID
        assert metadata.model_info.provider == "bedrock"
        assert metadata.model_info.pricing_snapshot is not None
        assert metadata.model_info.pricing_snapshot.output_price_per_mtok == 15.0
        assert metadata.cost is not None
        assert metadata.cost.total_cost == pytest.approx(0.000105)
        assert metadata.latency is not None
        assert metadata.latency.end_to_end_latency is not None
        session = await service.storage.sessions.get(ALICE, SessionId("s-1"))
        assert session is not None
        assert session.message_count == 1
        assert session.last_message_at is not None
        assert session.preferences.last_model == SCRIPTED_MODEL_ID
        assert session.preferences.last_temperature == 0.2
        summary = await service.storage.costs.summary(ALICE, period_of(messages[1].created_at))
        assert summary.total_requests == 1
        assert summary.total_cost == pytest.approx(0.000105)
        assert service.scripted.requests[0].temperature == 0.2

    @pytest.mark.asyncio
    async def test_later_turns_carry_the_stored_history(
        self, service: Service, auth: Callable[..., dict[str, str]]
    ) -> None:
        answers = iter(["First answer.", "Second answer."])
        service.scripted.script = lambda: [text_cycle(next(answers))]
        async with service.client() as client:
            for question in ("First question", "Second question"):
                assert (
                    await post_turn(client, auth("alice"), session_id="s-2", message=question)
                ).status == 200
        sent = service.scripted.models[1].calls[0]["messages"]
        assert [(m["role"], m["content"][0]["text"]) for m in sent] == [
            ("user", "First question"),
            ("assistant", "First answer."),
            ("user", "Second question"),
        ]
        session = await service.storage.sessions.get(ALICE, SessionId("s-2"))
        assert session is not None
        assert session.message_count == 2


class TestToolTurn:
    @pytest.mark.asyncio
    async def test_tool_use_reasoning_and_result_are_streamed_and_stored(
        self, service: Service, auth: Callable[..., dict[str, str]]
    ) -> None:
        service.scripted.script = lambda: [
            tool_cycle("calculator", {"expression": "6 * 7"}, reasoning="I should compute this."),
            text_cycle("The answer is 42."),
        ]
        async with service.client() as client:
            turn = await post_turn(
                client,
                auth("alice"),
                session_id="s-3",
                message="What is 6 times 7?",
                enabled_tools=["calculator"],
            )
        assert turn.status == 200
        validate_events(turn.events)
        assert turn.of("reasoning") == [
            {"reasoningText": "I should compute this."},
            {"reasoning_signature": "sig-1"},
        ]
        assert turn.of("content_block_start")[0] == {
            "contentBlockIndex": 0,
            "type": "tool_use",
            "toolUse": {"toolUseId": "tool-1", "name": "calculator", "type": "tool_use"},
        }
        assert "".join(d["input"] for d in turn.of("content_block_delta") if d["type"] == "tool_use") == (
            '{"expression": "6 * 7"}'
        )
        assert turn.of("tool_use") == [
            {"tool_use": {"name": "calculator", "tool_use_id": "tool-1", "input": {"expression": "6 * 7"}}}
        ]
        assert turn.of("tool_result") == [
            {"tool_result": {"toolUseId": "tool-1", "status": "success", "content": [{"text": "42"}]}}
        ]
        assert turn.of("metadata")[-1]["usage"] == {"inputTokens": 30, "outputTokens": 13, "totalTokens": 43}
        assert turn.text() == "The answer is 42."
        reply = (await service.storage.messages.list(ALICE, SessionId("s-3"))).items[1]
        assert [block.type for block in reply.content] == [
            "reasoningContent",
            "toolUse",
            "toolResult",
            "text",
        ]
        assert reply.content[2].tool_result is not None
        assert reply.content[2].tool_result.content == [{"text": "42"}]

    @pytest.mark.asyncio
    async def test_history_splits_tool_turns_back_for_the_model(
        self, service: Service, auth: Callable[..., dict[str, str]]
    ) -> None:
        scripts = iter(
            [
                [tool_cycle("current_time", {"timezone": "UTC"}), text_cycle("It is noon.")],
                [text_cycle("You are welcome.")],
            ]
        )
        service.scripted.script = lambda: next(scripts)
        async with service.client() as client:
            first = await post_turn(
                client, auth("alice"), session_id="s-4", message="Time?", enabled_tools=["current_time"]
            )
            assert first.status == 200
            assert first.of("tool_result")[0]["tool_result"]["status"] == "success"
            assert (await post_turn(client, auth("alice"), session_id="s-4", message="Thanks")).status == 200
        sent = service.scripted.models[1].calls[0]["messages"]
        assert [m["role"] for m in sent] == ["user", "assistant", "user", "assistant", "user"]
        assert "toolUse" in sent[1]["content"][0]
        assert "toolResult" in sent[2]["content"][0]
        assert service.scripted.models[1].calls[0]["tool_specs"] in (None, [])

    @pytest.mark.asyncio
    async def test_a_failing_tool_is_an_error_result_not_a_failed_turn(
        self, service: Service, auth: Callable[..., dict[str, str]]
    ) -> None:
        service.scripted.script = lambda: [
            tool_cycle("calculator", {"expression": "__import__('os')"}),
            text_cycle("That did not work."),
        ]
        async with service.client() as client:
            turn = await post_turn(
                client, auth("alice"), session_id="s-5", message="Try", enabled_tools=["calculator"]
            )
        validate_events(turn.events)
        result = turn.of("tool_result")[0]["tool_result"]
        assert result["status"] == "error"
        assert "Only numbers" in result["content"][0]["text"]
        assert turn.names()[-2:] == ["metadata", "done"]


class TestFailures:
    @pytest.mark.asyncio
    async def test_failure_before_the_first_event_is_an_http_error(
        self, service: Service, auth: Callable[..., dict[str, str]]
    ) -> None:
        service.scripted.script = lambda: [
            [ModelThrottledException("slow down")],
            [ModelThrottledException("slow down")],
        ]
        async with service.client() as client:
            turn = await post_turn(client, auth("alice"), session_id="s-6", message="Hello")
        assert turn.status == 429
        assert turn.error is not None
        assert turn.error["code"] == "rate_limit_exceeded"
        assert turn.headers["retry-after"] == "10"
        assert len(service.scripted.models[0].calls) == 2, "throttling is retried once (two attempts)"
        messages = (await service.storage.messages.list(ALICE, SessionId("s-6"))).items
        assert [(m.role, m.status) for m in messages] == [("user", "complete"), ("assistant", "failed")]
        assert messages[1].metadata is not None
        assert messages[1].metadata.error_code == "rate_limit_exceeded"

    @pytest.mark.asyncio
    async def test_unexpected_failure_reveals_nothing(
        self, service: Service, auth: Callable[..., dict[str, str]]
    ) -> None:
        service.scripted.script = lambda: [[RuntimeError("password=hunter2 in the provider's text")]]
        async with service.client() as client:
            turn = await post_turn(client, auth("alice"), session_id="s-7", message="Hello")
        assert turn.status == 500
        assert turn.error is not None
        assert turn.error["code"] == "internal_error"
        assert "hunter2" not in str(turn.error)

    @pytest.mark.asyncio
    async def test_failure_mid_stream_is_a_stream_error_and_a_failed_turn(
        self, service: Service, auth: Callable[..., dict[str, str]]
    ) -> None:
        partial = text_cycle("This answer will break")[:4]
        scripts = iter([[[*partial, RuntimeError("secret detail")]], [text_cycle("Recovered.")]])
        service.scripted.script = lambda: next(scripts)
        async with service.client() as client:
            turn = await post_turn(client, auth("alice"), session_id="s-8", message="Go")
            assert turn.status == 200
            validate_events(turn.events)
            assert turn.names() == [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_stop",
                "stream_error",
                "done",
            ]
            assert turn.of("message_stop") == [{"stopReason": "error"}]
            error = turn.of("stream_error")[0]
            assert error["code"] == "internal_error"
            assert error["recoverable"] is False
            assert error["metadata"]["session_id"] == "s-8"
            assert "secret" not in error["message"]
            messages = (await service.storage.messages.list(ALICE, SessionId("s-8"))).items
            assert messages[1].status is MessageStatus.FAILED
            assert [block.text for block in messages[1].content] == [error["message"]], "no half message"
            assert (await post_turn(client, auth("alice"), session_id="s-8", message="Again")).status == 200
        retried = service.scripted.models[1].calls[0]["messages"]
        assert [m["content"][0]["text"] for m in retried] == ["Again"], "a failed turn is not history"
        session = await service.storage.sessions.get(ALICE, SessionId("s-8"))
        assert session is not None
        assert session.message_count == 2


class TestKnowledge:
    @pytest.mark.asyncio
    async def test_passages_reach_the_model_but_only_the_question_is_stored(
        self, service: Service, auth: Callable[..., dict[str, str]]
    ) -> None:
        handbook = b"# Returns\n\nItems may be returned within 30 days with a receipt.\n"
        await service.storage.assistants.put(
            Assistant(
                assistant_id=AssistantId("ast-kb"), owner_id=ALICE, name="Helper", instructions="Be brief."
            )
        )
        await service.storage.documents.create(
            Document(
                document_id=DocumentId("DOC-1"),
                assistant_id=AssistantId("ast-kb"),
                filename="handbook.md",
                content_type="text/markdown",
                size_bytes=len(handbook),
                storage_key="assistants/ast-kb/documents/DOC-1/handbook.md",
                status=DocumentStatus.COMPLETE,
            )
        )
        async with open_knowledge_base(service.settings.rag_config()) as knowledge:
            await knowledge.ingest(
                "ast-kb", "DOC-1", filename="handbook.md", content_type="text/markdown", data=handbook
            )
        async with service.client() as client:
            turn = await post_turn(
                client, auth("alice"), session_id="kb", message="Can I return items?", assistant_id="ast-kb"
            )
        assert turn.status == 200
        validate_events(turn.events)
        assert turn.names()[0] == "citation"
        assert turn.of("citation") == [
            {
                "assistantId": "ast-kb",
                "documentId": "DOC-1",
                "fileName": "handbook.md",
                "text": "Items may be returned within 30 days with a receipt.",
            }
        ]
        prompt = service.scripted.models[0].calls[0]["messages"][-1]["content"][0]["text"]
        assert "[1] handbook.md" in prompt
        assert "within 30 days" in prompt
        assert prompt.endswith("Question: Can I return items?")
        messages = (await service.storage.messages.list(ALICE, SessionId("kb"))).items
        assert messages[0].content[0].text == "Can I return items?"
        assert messages[1].citations is not None
        assert [c.document_id for c in messages[1].citations] == ["DOC-1"]
