"""Stored messages -> the strands conversation a turn's agent starts from.

A turn is stored as two messages: the user's own text (with references to attachments, never their
bytes) and one assistant message holding text, tool uses and tool results in order. For the model,
the assistant message is split back into assistant / tool-result turns as providers require; failed
turns are left out; earlier attachments become a short note, since their bytes are not kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chat_core.ids import SessionId, UserId
from chat_core.messages import ContentBlock, Message, MessageStatus
from chat_core.ports import MessageRepository

__all__ = ["load_history", "to_strands_messages"]

StrandsMessage = dict[str, Any]


async def load_history(
    messages: MessageRepository, user_id: UserId, session_id: SessionId, *, limit: int
) -> list[Message]:
    """The session's last `limit` stored messages, oldest first.

    One newest-first read of the window: a long session costs what a short one does.
    """
    return await messages.recent(user_id, session_id, limit=limit)


def _attachment_note(block: ContentBlock) -> dict[str, Any] | None:
    attachment = block.image or block.document
    if attachment is None:
        return None
    kind = "image" if block.image is not None else "file"
    return {"text": f"[Attached {kind}: {attachment.name}]"}


def _user_turn(message: Message) -> list[StrandsMessage]:
    content: list[dict[str, Any]] = []
    for block in message.content:
        if block.type == "text" and block.text:
            content.append({"text": block.text})
        elif (note := _attachment_note(block)) is not None:
            content.append(note)
    return [{"role": "user", "content": content}] if content else []


def _assistant_turn(message: Message) -> list[StrandsMessage]:
    used = {block.tool_use.tool_use_id for block in message.content if block.tool_use is not None}
    answered = {block.tool_result.tool_use_id for block in message.content if block.tool_result is not None}
    paired = used & answered
    turns: list[StrandsMessage] = []

    def add(role: str, item: dict[str, Any]) -> None:
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].append(item)
        else:
            turns.append({"role": role, "content": [item]})

    for block in message.content:
        if block.type == "text" and block.text:
            add("assistant", {"text": block.text})
        elif block.tool_use is not None and block.tool_use.tool_use_id in paired:
            add(
                "assistant",
                {
                    "toolUse": {
                        "toolUseId": block.tool_use.tool_use_id,
                        "name": block.tool_use.name,
                        "input": block.tool_use.input,
                    }
                },
            )
        elif block.tool_result is not None and block.tool_result.tool_use_id in paired:
            add(
                "user",
                {
                    "toolResult": {
                        "toolUseId": block.tool_result.tool_use_id,
                        "status": block.tool_result.status,
                        "content": block.tool_result.content,
                    }
                },
            )
    return turns


def to_strands_messages(stored: Sequence[Message]) -> list[StrandsMessage]:
    """A conversation that starts with the user, alternates roles and ends with the assistant."""
    kept: list[Message] = []
    for message in stored:
        if message.role == "assistant" and message.status is MessageStatus.FAILED:
            if kept and kept[-1].role == "user":
                kept.pop()  # the question of a failed turn goes too: it was never answered
            continue
        kept.append(message)
    conversation: list[StrandsMessage] = []
    for message in kept:
        for turn in _user_turn(message) if message.role == "user" else _assistant_turn(message):
            if conversation and conversation[-1]["role"] == turn["role"]:
                conversation[-1]["content"].extend(turn["content"])
            else:
                conversation.append(turn)
    while conversation and conversation[0]["role"] != "user":
        conversation.pop(0)
    while conversation and conversation[-1]["role"] != "assistant":
        conversation.pop()
    return conversation
