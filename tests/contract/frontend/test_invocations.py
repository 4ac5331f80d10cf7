"""A chat turn: `POST {inferenceApiUrl}/invocations?qualifier=DEFAULT`, read as the client's stream parser.

Request: `FE/session/services/chat/chat-request.service.ts` (body) and `chat-http.service.ts` (headers,
opening rules). Events: `FE/session/services/chat/stream-parser.service.ts` (what each handler
validates) and the event interfaces of `FE/session/services/models/message.model.ts`. FE =
`frontend/ai.client/src/app` of the client.
"""

from __future__ import annotations

import uuid
from typing import Any

from frontend_kit import (
    INTEGER,
    NUMBER,
    STRING,
    FrontendClient,
    ServerSentEvent,
    UserFactory,
    assistant_with_document,
    attach_file,
    check,
    enum,
    never_null,
    obj,
    streamed_text,
    turn_body,
)
from frontend_kit import run_turn as open_turn

# FE/session/services/models/message.model.ts: MessageStartEvent
MESSAGE_START = obj({"role": enum("user", "assistant")})
# FE/session/services/models/message.model.ts: ContentBlockStartEvent (the parser requires a
# non-negative integer index)
CONTENT_BLOCK_START = obj(
    {"contentBlockIndex": {"type": "integer", "minimum": 0}},
    {
        "type": never_null(enum("text", "tool_use", "tool_result", "toolUse", "toolResult")),
        "toolUse": never_null(obj({"toolUseId": STRING, "name": STRING, "type": enum("tool_use")})),
    },
)
# FE/session/services/models/message.model.ts: ContentBlockDeltaEvent; the parser needs `text` or `input`
CONTENT_BLOCK_DELTA = {
    **obj(
        {"contentBlockIndex": {"type": "integer", "minimum": 0}},
        {
            "type": never_null(enum("text", "tool_use", "tool_result", "toolUse", "toolResult")),
            "text": never_null(STRING),
            "input": never_null(STRING),
        },
    ),
    "anyOf": [{"required": ["text"]}, {"required": ["input"]}],
}
# FE/session/services/models/message.model.ts: ContentBlockStopEvent
CONTENT_BLOCK_STOP = obj({"contentBlockIndex": {"type": "integer", "minimum": 0}})
# FE/session/services/models/message.model.ts: MessageStopEvent
MESSAGE_STOP = obj({"stopReason": STRING})
# FE/session/services/chat/stream-parser.service.ts: handleMetadata reads usage, metrics and cost
# (`formatCost` calls `toFixed` on cost: a number, never null or an object)
METADATA = obj(
    {},
    {
        "usage": obj(
            {"inputTokens": INTEGER, "outputTokens": INTEGER, "totalTokens": INTEGER},
            {"cacheReadInputTokens": INTEGER, "cacheWriteInputTokens": INTEGER},
        ),
        "metrics": obj({"latencyMs": NUMBER}, {"timeToFirstByteMs": NUMBER}),
        "cost": never_null(NUMBER),
    },
)
# FE/session/services/models/message.model.ts: Citation (all strings; stream-parser handleCitation)
CITATION = obj({"assistantId": STRING, "documentId": STRING, "fileName": STRING, "text": STRING})
# FE/session/services/chat/stream-parser.service.ts: handleStreamErrorEvent
STREAM_ERROR = obj(
    {"type": enum("stream_error"), "code": STRING, "message": STRING, "recoverable": {"type": "boolean"}}
)
EVENT_SCHEMAS: dict[str, dict[str, Any]] = {
    "message_start": MESSAGE_START,
    "content_block_start": CONTENT_BLOCK_START,
    "content_block_delta": CONTENT_BLOCK_DELTA,
    "content_block_stop": CONTENT_BLOCK_STOP,
    "message_stop": MESSAGE_STOP,
    "metadata": METADATA,
    "citation": CITATION,
    "stream_error": STREAM_ERROR,
    "done": {"type": "object"},
}


def check_stream(events: list[ServerSentEvent]) -> None:
    """Every event the parser handles matches what it validates; blocks open before deltas and stops."""
    open_blocks: set[int] = set()
    for event in events:
        if event.event in EVENT_SCHEMAS:
            check(event.data, EVENT_SCHEMAS[event.event])
        if event.event == "content_block_start":
            open_blocks.add(event.data["contentBlockIndex"])
        if event.event == "content_block_stop":
            assert event.data["contentBlockIndex"] in open_blocks, "stop for a block that never started"
    assert events[-1].event == "done"


def run_turn(client: FrontendClient, body: dict[str, Any]) -> list[ServerSentEvent]:
    events = open_turn(client, body)
    check_stream(events)
    return events


class TestTurn:
    def test_a_new_conversation_streams_an_answer_the_parser_accepts(
        self, frontend_user: UserFactory
    ) -> None:
        client = frontend_user()
        events = run_turn(client, turn_body(str(uuid.uuid4()), "How long does the battery take to charge?"))
        names = [event.event for event in events]
        assert names[0] == "message_start"
        assert "message_stop" in names
        assert streamed_text(events)
        assert any(event.event == "metadata" and "usage" in event.data for event in events)

    def test_the_system_default_sends_null_model_and_provider(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        body = turn_body(str(uuid.uuid4()), "Hello", model_id=None, provider=None)
        assert streamed_text(run_turn(client, body))

    def test_an_attached_file_is_read_with_the_turn(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        session_id = str(uuid.uuid4())  # made by the client before the first message
        upload_id = attach_file(
            client, session_id, "notes.txt", b"The code word is heliotrope.", "text/plain"
        )
        body = turn_body(session_id, "What is the code word?", file_upload_ids=[upload_id])
        assert streamed_text(run_turn(client, body))

    def test_an_assistant_answers_with_citations(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        assistant_id, document_id = assistant_with_document(client)
        body = turn_body(
            str(uuid.uuid4()), "How long does the battery take to charge?", assistant_id=assistant_id
        )
        events = run_turn(client, body)
        citations = [event.data for event in events if event.event == "citation"]
        assert citations
        assert {(item["assistantId"], item["documentId"]) for item in citations} == {
            (assistant_id, document_id)
        }


class TestRefusals:
    def test_a_refusal_before_the_stream_is_json_with_error_message(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        response, events = client.invoke(turn_body(str(uuid.uuid4()), "Hi", model_id="no-such-model"))
        assert response.status_code >= 400
        assert events == []
        # chat-http.service.ts shows `error.message` (else `message`) of a JSON error body
        check(response.json(), obj({"error": obj({"message": STRING})}))

    def test_an_assistant_of_someone_else_is_refused(self, frontend_user: UserFactory) -> None:
        owner, other = frontend_user(), frontend_user()
        draft = owner.post("/assistants/draft", json={"name": "Private"}).json()
        response, _ = other.invoke(turn_body(str(uuid.uuid4()), "Hi", assistant_id=draft["assistantId"]))
        assert response.status_code == 404
        check(response.json(), obj({"error": obj({"message": STRING})}))
