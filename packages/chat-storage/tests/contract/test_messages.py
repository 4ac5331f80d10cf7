from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chat_core.costs import CostBreakdown, TokenUsage
from chat_core.ids import SessionId, UserId
from chat_core.messages import (
    Citation,
    ContentBlock,
    Message,
    MessageDraft,
    MessageMetadata,
    MessageStatus,
    ToolUse,
)
from chat_storage import Storage

ALICE = UserId("alice")
BOB = UserId("bob")
S1 = SessionId("s-1")


def draft(text: str, role: str = "user") -> MessageDraft:
    return MessageDraft.model_validate({"role": role, "content": [{"type": "text", "text": text}]})


async def all_messages(
    storage: Storage, user_id: UserId, session_id: SessionId, *, limit: int
) -> list[Message]:
    items: list[Message] = []
    cursor: str | None = None
    for _ in range(100):
        page = await storage.messages.list(user_id, session_id, limit=limit, cursor=cursor)
        items += page.items
        cursor = page.next_cursor
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


class TestAppend:
    @pytest.mark.asyncio
    async def test_assigns_consecutive_indexes_and_ids(self, storage: Storage) -> None:
        first = await storage.messages.append(ALICE, S1, [draft("hi"), draft("hello", "assistant")])
        second = await storage.messages.append(ALICE, S1, [draft("again")])
        assert [m.index for m in first + second] == [0, 1, 2]
        assert [m.id for m in first + second] == ["msg-s-1-0", "msg-s-1-1", "msg-s-1-2"]
        assert [m.role for m in first] == ["user", "assistant"]

    @pytest.mark.asyncio
    async def test_nothing_to_append_is_nothing_stored(self, storage: Storage) -> None:
        assert await storage.messages.append(ALICE, S1, []) == []
        assert (await storage.messages.list(ALICE, S1)).items == []

    @pytest.mark.asyncio
    async def test_sessions_count_independently(self, storage: Storage) -> None:
        await storage.messages.append(ALICE, S1, [draft("a"), draft("b")])
        other = await storage.messages.append(ALICE, SessionId("s-2"), [draft("c")])
        bobs = await storage.messages.append(BOB, S1, [draft("d")])
        assert (other[0].index, bobs[0].index) == (0, 0)

    @pytest.mark.asyncio
    async def test_round_trips_every_field(self, storage: Storage) -> None:
        message = MessageDraft(
            role="assistant",
            content=[
                ContentBlock.of_text("Here: ✓ ünïcode 🚀"),
                ContentBlock(
                    type="toolUse", tool_use=ToolUse(tool_use_id="t-1", name="search", input={"q": "x"})
                ),
            ],
            status=MessageStatus.FAILED,
            metadata=MessageMetadata(
                token_usage=TokenUsage(input_tokens=10, output_tokens=5, total_tokens=15),
                cost=CostBreakdown(input_cost=0.1, total_cost=0.1),
                citations=[
                    Citation(assistant_id="ast-1", document_id="DOC-1", file_name="a.pdf", text="quote")
                ],
                error_code="model_error",
            ),
            created_at=datetime(2025, 1, 2, 3, 4, 5, 600_000, tzinfo=UTC),
        )
        [stored] = await storage.messages.append(ALICE, S1, [message])
        [listed] = (await storage.messages.list(ALICE, S1)).items
        assert listed == stored
        assert listed.model_dump(exclude={"id", "index"}) == message.model_dump()


class TestList:
    @pytest.mark.asyncio
    async def test_oldest_first_across_pages(self, storage: Storage) -> None:
        for start in range(0, 9, 3):
            await storage.messages.append(ALICE, S1, [draft(str(start + offset)) for offset in range(3)])
        messages = await all_messages(storage, ALICE, S1, limit=4)
        assert [m.index for m in messages] == list(range(9))
        assert [m.content[0].text for m in messages] == [str(index) for index in range(9)]

    @pytest.mark.asyncio
    async def test_another_users_messages_are_invisible(self, storage: Storage) -> None:
        await storage.messages.append(ALICE, S1, [draft("secret")])
        page = await storage.messages.list(BOB, S1)
        assert page.items == []
        assert page.next_cursor is None
