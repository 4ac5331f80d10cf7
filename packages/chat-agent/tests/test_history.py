"""Stored turns -> the conversation a new agent starts from."""

from __future__ import annotations

from chat_agent.history import to_strands_messages
from chat_core.ids import MessageId
from chat_core.messages import Attachment, ContentBlock, Message, MessageStatus, ToolResult, ToolUse


def message(
    index: int, role: str, *blocks: ContentBlock, status: MessageStatus = MessageStatus.COMPLETE
) -> Message:
    return Message(
        id=MessageId(f"msg-s-{index}"), index=index, role=role, content=list(blocks), status=status
    )


def text(value: str) -> ContentBlock:
    return ContentBlock.of_text(value)


def test_failed_turns_are_left_out() -> None:
    stored = [
        message(0, "user", text("one")),
        message(1, "assistant", text("answer one")),
        message(2, "user", text("two")),
        message(3, "assistant", text("The model failed."), status=MessageStatus.FAILED),
    ]
    assert to_strands_messages(stored) == [
        {"role": "user", "content": [{"text": "one"}]},
        {"role": "assistant", "content": [{"text": "answer one"}]},
    ]


def test_attachments_become_notes_and_tool_turns_are_split() -> None:
    stored = [
        message(
            0,
            "user",
            text("see file"),
            ContentBlock(type="document", document=Attachment(format="pdf", name="a.pdf", upload_id="u1")),
        ),
        message(
            1,
            "assistant",
            ContentBlock(type="reasoningContent", reasoning_content={"reasoningText": {"text": "hm"}}),
            ContentBlock(
                type="toolUse",
                tool_use=ToolUse(tool_use_id="t1", name="calculator", input={"expression": "1+1"}),
            ),
            ContentBlock(
                type="toolResult", tool_result=ToolResult(tool_use_id="t1", content=[{"text": "2"}])
            ),
            ContentBlock(type="toolUse", tool_use=ToolUse(tool_use_id="t-orphan", name="calculator")),
            text("It is 2."),
        ),
    ]
    assert to_strands_messages(stored) == [
        {"role": "user", "content": [{"text": "see file"}, {"text": "[Attached file: a.pdf]"}]},
        {
            "role": "assistant",
            "content": [
                {"toolUse": {"toolUseId": "t1", "name": "calculator", "input": {"expression": "1+1"}}}
            ],
        },
        {
            "role": "user",
            "content": [{"toolResult": {"toolUseId": "t1", "status": "success", "content": [{"text": "2"}]}}],
        },
        {"role": "assistant", "content": [{"text": "It is 2."}]},
    ]


def test_the_conversation_starts_with_the_user_and_ends_with_the_assistant() -> None:
    stored = [message(4, "assistant", text("tail of an older page")), message(5, "user", text("dangling"))]
    assert to_strands_messages(stored) == []
