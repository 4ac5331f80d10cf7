"""Reopening a conversation: `GET /sessions/{id}/messages`, as
`FE/session/services/session/session.service.ts` asks (no `limit`, no `next_token`) and
`FE/session/services/session/message-map.service.ts` and the message components read it.
"""

from __future__ import annotations

import asyncio
import uuid

from frontend_kit import (
    INTEGER,
    NUMBER,
    STRING,
    FrontendClient,
    Stack,
    UserFactory,
    array,
    assistant_with_document,
    attach_file,
    check,
    enum,
    obj,
    run_turn,
    turn_body,
)

from chat_core.ids import SessionId, UserId
from chat_core.messages import ContentBlock, MessageDraft
from chat_storage import open_storage

# FE/session/services/models/message.model.ts: FileAttachmentData
FILE_ATTACHMENT = obj({"uploadId": STRING, "filename": STRING, "mimeType": STRING, "sizeBytes": INTEGER})
# FE/session/services/models/message.model.ts: ContentBlock (`type` decides which field is rendered)
CONTENT_BLOCK = obj(
    {"type": STRING},
    {
        "text": STRING,
        "toolUse": {"type": "object"},
        "toolResult": {"type": "object"},
        "image": {"type": "object"},
        "document": {"type": "object"},
        "reasoningContent": {"type": "object"},
        "fileAttachment": FILE_ATTACHMENT,
    },
)
# FE/session/components/message-list/components/message-metadata-badges.component.ts: MessageMetadata
# (`cost` goes through `toFixed` unless it is undefined or null)
MESSAGE_METADATA = obj(
    {},
    {
        "latency": obj({}, {"timeToFirstToken": NUMBER, "endToEndLatency": NUMBER}),
        "tokenUsage": obj(
            {},
            {
                "inputTokens": NUMBER,
                "outputTokens": NUMBER,
                "totalTokens": NUMBER,
                "cacheReadInputTokens": NUMBER,
                "cacheWriteInputTokens": NUMBER,
            },
        ),
        "attribution": obj({}, {"userId": STRING, "sessionId": STRING, "timestamp": STRING}),
        "cost": NUMBER,
    },
)
# FE/session/services/models/message.model.ts: Citation
CITATION = obj({"assistantId": STRING, "documentId": STRING, "fileName": STRING, "text": STRING})
# FE/session/services/models/message.model.ts: Message (`created_at` is declared but never rendered;
# `citations` feeds FE/session/components/citation-display, which no template uses at this commit)
MESSAGE = obj(
    {"id": STRING, "role": enum("user", "assistant", "system"), "content": array(CONTENT_BLOCK)},
    {"metadata": MESSAGE_METADATA, "citations": array(CITATION)},
)
# FE/session/services/session/session.service.ts: MessagesListResponse (`next_token` is never read)
MESSAGES_LIST = obj({"messages": array(MESSAGE)})


def message_page(client: FrontendClient, session_id: str) -> list[dict[str, object]]:
    response = client.get(f"/sessions/{session_id}/messages")
    assert response.status_code == 200, response.text
    check(response.json(), MESSAGES_LIST)
    messages: list[dict[str, object]] = response.json()["messages"]
    return messages


class TestReopening:
    def test_both_sides_of_each_turn_come_back_with_the_ids_the_stream_used(
        self, frontend_user: UserFactory
    ) -> None:
        client = frontend_user()
        session_id = str(uuid.uuid4())
        run_turn(client, turn_body(session_id, "How long does the battery take to charge?"))
        run_turn(client, turn_body(session_id, "And how should I store it?"))
        messages = message_page(client, session_id)
        assert [message["role"] for message in messages] == ["user", "assistant", "user", "assistant"]
        # the stream names messages msg-{sessionId}-{n}; the API must use the same ids
        assert [message["id"] for message in messages] == [f"msg-{session_id}-{n}" for n in range(4)]

    def test_the_answer_has_a_number_cost_for_the_badges(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        session_id = str(uuid.uuid4())
        run_turn(client, turn_body(session_id, "Hello there"))
        answer = message_page(client, session_id)[1]
        metadata = answer["metadata"]
        assert isinstance(metadata, dict)
        assert isinstance(metadata["cost"], int | float)
        assert metadata["tokenUsage"]

    def test_an_attached_file_comes_back_as_its_badge(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        session_id = str(uuid.uuid4())
        upload_id = attach_file(
            client, session_id, "notes.txt", b"The code word is heliotrope.", "text/plain"
        )
        run_turn(client, turn_body(session_id, "What is the code word?", file_upload_ids=[upload_id]))
        question = message_page(client, session_id)[0]
        blocks = question["content"]
        assert isinstance(blocks, list)
        badges = [block["fileAttachment"] for block in blocks if block["type"] == "fileAttachment"]
        assert badges == [
            {"uploadId": upload_id, "filename": "notes.txt", "mimeType": "text/plain", "sizeBytes": 28}
        ]

    def test_an_assistant_answer_keeps_its_citations(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        assistant_id, _ = assistant_with_document(client)
        session_id = str(uuid.uuid4())
        question = "How long does the battery take to charge?"
        run_turn(client, turn_body(session_id, question, assistant_id=assistant_id))
        answer = message_page(client, session_id)[1]
        assert answer["citations"]
        # the session remembers the assistant (session.page.ts re-attaches it from preferences)
        metadata = client.get(f"/sessions/{session_id}/metadata").json()
        assert metadata["preferences"]["assistantId"] == assistant_id

    def test_a_long_conversation_comes_back_whole_without_a_limit(
        self, frontend_user: UserFactory, stack: Stack
    ) -> None:
        client = frontend_user()
        session_id = str(uuid.uuid4())
        run_turn(client, turn_body(session_id, "The first question"))
        earlier = [  # 160 more messages, written as turns would write them (80 turns would be slow)
            MessageDraft(role=role, content=[ContentBlock.of_text(f"{role} {number}")])
            for number in range(80)
            for role in ("user", "assistant")
        ]

        async def append() -> None:
            async with open_storage(stack.storage) as storage:
                for start in range(0, len(earlier), 40):
                    batch = earlier[start : start + 40]
                    await storage.messages.append(UserId(client.user_id), SessionId(session_id), batch)

        asyncio.run(append())
        messages = message_page(client, session_id)
        assert [message["id"] for message in messages] == [f"msg-{session_id}-{n}" for n in range(162)]
