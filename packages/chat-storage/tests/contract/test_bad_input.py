"""Hostile or odd input: unsafe ids, unicode, empty listings and tampered cursors.

Each must end in a clear `InvalidInputError` (or simply work, for unicode), never a crash, a storage
error or someone else's data.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from chat_core.assistants import AssistantStatus
from chat_core.errors import InvalidInputError
from chat_core.ids import AssistantId, DocumentId, SessionId, UploadId, UserId
from chat_core.messages import MessageDraft
from chat_core.pagination import Page, encode_cursor
from chat_core.sessions import SessionUpdate
from chat_storage import Storage

ALICE = UserId("alice")
BOB = UserId("bob")
AT = datetime(2025, 1, 1, tzinfo=UTC)

BAD_IDS = {
    "slash": "a/b",
    "dotdot": "..",
    "parent": "../../etc/passwd",
    "backslash": "a\\b",
    "single-quote": "x' OR '1'='1",
    "double-quote": 'x"y',
    "hash": "USER#bob",
    "space": "a b",
    "nul": "a\x00b",
    "newline": "a\nb",
    "empty": "",
    "10kB": "a" * 10_240,
}

Operation = Callable[[Storage, str], Awaitable[object]]


def _draft() -> MessageDraft:
    return MessageDraft.model_validate({"role": "user", "content": [{"type": "text", "text": "hi"}]})


OPERATIONS: dict[str, Operation] = {
    "session-get-user": lambda s, bad: s.sessions.get(UserId(bad), SessionId("s-1")),
    "session-get": lambda s, bad: s.sessions.get(ALICE, SessionId(bad)),
    "session-update": lambda s, bad: s.sessions.update(ALICE, SessionId(bad), SessionUpdate(title="t")),
    "session-turn": lambda s, bad: s.sessions.record_turn(ALICE, SessionId(bad), at=AT),
    "session-delete": lambda s, bad: s.sessions.soft_delete(ALICE, SessionId(bad)),
    "session-list": lambda s, bad: s.sessions.list(UserId(bad)),
    "message-append": lambda s, bad: s.messages.append(ALICE, SessionId(bad), [_draft()]),
    "message-list": lambda s, bad: s.messages.list(ALICE, SessionId(bad)),
    "file-get": lambda s, bad: s.files.get(ALICE, UploadId(bad)),
    "file-ready": lambda s, bad: s.files.mark_ready(ALICE, UploadId(bad)),
    "file-delete": lambda s, bad: s.files.delete(ALICE, UploadId(bad)),
    "document-get": lambda s, bad: s.documents.get(AssistantId(bad), DocumentId("DOC-1")),
    "document-list": lambda s, bad: s.documents.list(AssistantId(bad)),
    "assistant-get": lambda s, bad: s.assistants.get(AssistantId(bad)),
    "assistant-shares": lambda s, bad: s.assistants.list_shares(AssistantId(bad)),
}


def refusals_missing(results: dict[str, BaseException | None]) -> dict[str, str]:
    """The cases that did not end in `InvalidInputError`, with what happened instead."""
    return {
        case: "no error" if outcome is None else repr(outcome)
        for case, outcome in results.items()
        if not isinstance(outcome, InvalidInputError)
    }


async def outcome_of(call: Awaitable[object]) -> BaseException | None:
    try:
        await call
    except Exception as exc:  # JUSTIFICATION: the test records every outcome and asserts on all of them.
        return exc
    return None


class TestUnsafeIds:
    @pytest.mark.asyncio
    async def test_every_unsafe_id_is_a_validation_error_in_every_operation(self, storage: Storage) -> None:
        results = {
            f"{operation_name} with {id_name}": await outcome_of(operation(storage, bad_id))
            for operation_name, operation in OPERATIONS.items()
            for id_name, bad_id in BAD_IDS.items()
        }
        assert refusals_missing(results) == {}

    @pytest.mark.asyncio
    async def test_nothing_was_written_by_refused_ids(self, storage: Storage) -> None:
        for bad_id in BAD_IDS.values():
            with pytest.raises(InvalidInputError):
                await storage.sessions.record_turn(ALICE, SessionId(bad_id), at=AT)
        assert (await storage.sessions.list(ALICE)).items == []

    @pytest.mark.asyncio
    async def test_bad_share_emails_are_validation_errors(self, storage: Storage) -> None:
        emails = ["not-an-email", "a/b@example.com", "x'@example.com", "a" * 300 + "@x.io"]
        results = {
            email: await outcome_of(storage.assistants.add_shares(AssistantId("ast-000000000001"), [email]))
            for email in emails
        }
        assert refusals_missing(results) == {}
        assert await storage.assistants.list_shares(AssistantId("ast-000000000001")) == []


class TestUnicode:
    @pytest.mark.asyncio
    async def test_titles_round_trip(self, storage: Storage) -> None:
        titles = [
            "Grüße aus Köln 👋",
            "日本語のタイトル",
            "עברית ועוד",
            "e\u0301 combining",
            "'; DROP TABLE sessions; --",
            '{"json": "looking"}',
            "🧪" * 100,
        ]
        for number, title in enumerate(titles):
            await storage.sessions.update(ALICE, SessionId(f"s-{number}"), SessionUpdate(title=title))
        for number, title in enumerate(titles):
            stored = await storage.sessions.get(ALICE, SessionId(f"s-{number}"))
            assert stored is not None
            assert stored.title == title
        listed = (await storage.sessions.list(ALICE)).items
        assert sorted(session.title for session in listed) == sorted(titles)

    @pytest.mark.asyncio
    async def test_message_text_round_trips(self, storage: Storage) -> None:
        text = "Ω≈ç√∫ \u200b zero-width \U0001f600 \\ backslash \x7f"
        draft = MessageDraft.model_validate({"role": "user", "content": [{"type": "text", "text": text}]})
        await storage.messages.append(ALICE, SessionId("s-1"), [draft])
        [stored] = (await storage.messages.list(ALICE, SessionId("s-1"))).items
        assert stored.content[0].text == text


Listing = Callable[[Storage, str | None], Awaitable[Page[Any]]]

LISTINGS: dict[str, Listing] = {
    "sessions": lambda s, c: s.sessions.list(ALICE, limit=1, cursor=c),
    "messages": lambda s, c: s.messages.list(ALICE, SessionId("s-1"), limit=1, cursor=c),
    "files": lambda s, c: s.files.list(ALICE, status="any", limit=1, cursor=c),
    "documents": lambda s, c: s.documents.list(AssistantId("ast-000000000001"), limit=1, cursor=c),
    "assistants-owned": lambda s, c: s.assistants.list_owned(
        ALICE, statuses=frozenset(AssistantStatus), limit=1, cursor=c
    ),
    "assistants-public": lambda s, c: s.assistants.list_public(limit=1, cursor=c),
    "assistants-shared": lambda s, c: s.assistants.list_shared_with("ann@example.com", limit=1, cursor=c),
}


class TestEmptyPages:
    @pytest.mark.asyncio
    async def test_every_empty_listing_is_one_empty_last_page(self, storage: Storage) -> None:
        pages = {name: await listing(storage, None) for name, listing in LISTINGS.items()}
        assert {name: (page.items, page.next_cursor) for name, page in pages.items()} == {
            name: ([], None) for name in LISTINGS
        }


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


TAMPERED = {
    "garbage": "not a cursor!",
    "not-base64": "%%%%",
    "json-list": _b64(b"[1, 2, 3]"),
    "json-string": _b64(b'"hello"'),
    "not-json": _b64(b"\xff\xfe binary"),
    "foreign-shape": encode_cursor({"offset": 5}),
    "empty-object": encode_cursor({}),
    "too-long": "A" * 5_000,
}


class TestTamperedCursors:
    @pytest.mark.asyncio
    async def test_every_tampered_cursor_is_a_validation_error_in_every_listing(
        self, storage: Storage
    ) -> None:
        results = {
            f"{listing_name} with {cursor_name}": await outcome_of(listing(storage, cursor))
            for listing_name, listing in LISTINGS.items()
            for cursor_name, cursor in TAMPERED.items()
        }
        assert refusals_missing(results) == {}

    @pytest.mark.asyncio
    async def test_another_users_cursor_is_refused(self, storage: Storage) -> None:
        for n in range(3):
            await storage.sessions.record_turn(ALICE, SessionId(f"s-{n}"), at=AT)
            await storage.sessions.record_turn(BOB, SessionId(f"s-{n}"), at=AT)
        alices = (await storage.sessions.list(ALICE, limit=1)).next_cursor
        assert alices is not None
        with pytest.raises(InvalidInputError):
            await storage.sessions.list(BOB, limit=1, cursor=alices)

    @pytest.mark.asyncio
    async def test_a_cursor_of_another_listing_is_refused(self, storage: Storage) -> None:
        for n in range(3):
            await storage.sessions.record_turn(ALICE, SessionId(f"s-{n}"), at=AT)
        await storage.messages.append(ALICE, SessionId("s-1"), [_draft(), _draft()])
        sessions_cursor = (await storage.sessions.list(ALICE, limit=1)).next_cursor
        assert sessions_cursor is not None
        with pytest.raises(InvalidInputError):
            await storage.messages.list(ALICE, SessionId("s-1"), limit=1, cursor=sessions_cursor)

    @pytest.mark.asyncio
    async def test_a_truncated_cursor_is_refused(self, storage: Storage) -> None:
        for n in range(3):
            await storage.sessions.record_turn(ALICE, SessionId(f"s-{n}"), at=AT)
        cursor = (await storage.sessions.list(ALICE, limit=1)).next_cursor
        assert cursor is not None
        for cut in (1, 2, 5, len(cursor) // 2):
            with pytest.raises(InvalidInputError):
                await storage.sessions.list(ALICE, limit=1, cursor=cursor[:-cut])
