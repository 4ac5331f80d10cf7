from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chat_core.assistants import Assistant, AssistantStatus, AssistantUpdate, Visibility
from chat_core.errors import ConflictError
from chat_core.ids import AssistantId, UserId
from chat_storage import Storage

OWNER = UserId("owner-1")
BASE = datetime(2025, 5, 1, tzinfo=UTC)
EVERY_STATUS = frozenset(AssistantStatus)


def make_assistant(
    number: int,
    *,
    owner_id: UserId = OWNER,
    visibility: Visibility = Visibility.PRIVATE,
    status: AssistantStatus = AssistantStatus.COMPLETE,
) -> Assistant:
    return Assistant(
        assistant_id=AssistantId(f"ast-{number:012d}"),
        owner_id=owner_id,
        owner_name="Owner",
        name=f"Assistant {number}",
        instructions="Be brief.",
        visibility=visibility,
        status=status,
        created_at=BASE + timedelta(minutes=number),
    )


def ids_of(pages: list[Assistant]) -> list[str]:
    return [assistant.assistant_id for assistant in pages]


class TestPut:
    @pytest.mark.asyncio
    async def test_put_then_get(self, storage: Storage) -> None:
        assistant = make_assistant(1)
        assert await storage.assistants.put(assistant) == assistant
        assert await storage.assistants.get(assistant.assistant_id) == assistant
        assert await storage.assistants.get(AssistantId("ast-000000000999")) is None

    @pytest.mark.asyncio
    async def test_put_with_the_stored_version_replaces(self, storage: Storage) -> None:
        assistant = await storage.assistants.put(make_assistant(1))
        renamed = assistant.updated(AssistantUpdate(name="Renamed"))
        await storage.assistants.put(renamed, expected_version=assistant.version)
        stored = await storage.assistants.get(assistant.assistant_id)
        assert stored is not None
        assert (stored.name, stored.version) == ("Renamed", assistant.version + 1)

    @pytest.mark.asyncio
    async def test_put_with_a_stale_version_is_a_conflict(self, storage: Storage) -> None:
        assistant = await storage.assistants.put(make_assistant(1))
        await storage.assistants.put(assistant.updated(AssistantUpdate(name="First")), expected_version=1)
        with pytest.raises(ConflictError):
            await storage.assistants.put(assistant.updated(AssistantUpdate(name="Stale")), expected_version=1)
        stored = await storage.assistants.get(assistant.assistant_id)
        assert stored is not None
        assert stored.name == "First"

    @pytest.mark.asyncio
    async def test_put_with_a_version_on_a_missing_assistant_is_a_conflict(self, storage: Storage) -> None:
        with pytest.raises(ConflictError):
            await storage.assistants.put(make_assistant(1), expected_version=1)
        assert await storage.assistants.get(make_assistant(1).assistant_id) is None


class TestDelete:
    @pytest.mark.asyncio
    async def test_removes_the_assistant_and_its_shares(self, storage: Storage) -> None:
        assistant = await storage.assistants.put(make_assistant(1, visibility=Visibility.SHARED))
        await storage.assistants.add_shares(assistant.assistant_id, ["friend@example.com"])
        assert await storage.assistants.delete(assistant.assistant_id) is True
        assert await storage.assistants.get(assistant.assistant_id) is None
        assert await storage.assistants.list_shares(assistant.assistant_id) == []
        assert (await storage.assistants.list_shared_with("friend@example.com")).items == []
        assert await storage.assistants.delete(assistant.assistant_id) is False


class TestListOwned:
    @pytest.mark.asyncio
    async def test_newest_first_in_the_given_statuses_across_pages(self, storage: Storage) -> None:
        for number in range(6):
            status = AssistantStatus.ARCHIVED if number == 2 else AssistantStatus.COMPLETE
            await storage.assistants.put(make_assistant(number, status=status))
        await storage.assistants.put(make_assistant(10, owner_id=UserId("someone-else")))
        seen: list[Assistant] = []
        cursor: str | None = None
        while True:
            page = await storage.assistants.list_owned(
                OWNER, statuses=frozenset({AssistantStatus.COMPLETE}), limit=2, cursor=cursor
            )
            seen += page.items
            cursor = page.next_cursor
            if cursor is None:
                break
        assert ids_of(seen) == [f"ast-{n:012d}" for n in (5, 4, 3, 1, 0)]

    @pytest.mark.asyncio
    async def test_several_statuses(self, storage: Storage) -> None:
        await storage.assistants.put(make_assistant(1, status=AssistantStatus.DRAFT))
        await storage.assistants.put(make_assistant(2, status=AssistantStatus.ARCHIVED))
        await storage.assistants.put(make_assistant(3))
        page = await storage.assistants.list_owned(
            OWNER, statuses=frozenset({AssistantStatus.DRAFT, AssistantStatus.COMPLETE})
        )
        assert ids_of(page.items) == ["ast-000000000003", "ast-000000000001"]


class TestSharing:
    @pytest.mark.asyncio
    async def test_add_shares_lowercases_and_keeps_existing(self, storage: Storage) -> None:
        assistant = await storage.assistants.put(make_assistant(1, visibility=Visibility.SHARED))
        first = await storage.assistants.add_shares(assistant.assistant_id, ["Ann@Example.com"])
        await storage.assistants.mark_share_interacted(assistant.assistant_id, "ann@example.com")
        shares = await storage.assistants.add_shares(
            assistant.assistant_id, ["ann@example.com", "bob@example.com"]
        )
        assert [share.email for share in shares] == ["ann@example.com", "bob@example.com"]
        assert shares[0].created_at == first[0].created_at
        assert shares[0].first_interacted is True
        assert shares[1].first_interacted is False

    @pytest.mark.asyncio
    async def test_remove_shares_ignores_unknown_emails(self, storage: Storage) -> None:
        assistant = await storage.assistants.put(make_assistant(1, visibility=Visibility.SHARED))
        await storage.assistants.add_shares(assistant.assistant_id, ["ann@example.com", "bob@example.com"])
        remaining = await storage.assistants.remove_shares(
            assistant.assistant_id, ["BOB@example.com", "nobody@example.com"]
        )
        assert [share.email for share in remaining] == ["ann@example.com"]
        assert await storage.assistants.get_share(assistant.assistant_id, "bob@example.com") is None
        share = await storage.assistants.get_share(assistant.assistant_id, "Ann@example.com")
        assert share is not None
        assert (share.assistant_id, share.email) == (assistant.assistant_id, "ann@example.com")

    @pytest.mark.asyncio
    async def test_mark_interacted_without_a_share_is_a_no_op(self, storage: Storage) -> None:
        assistant = await storage.assistants.put(make_assistant(1))
        await storage.assistants.mark_share_interacted(assistant.assistant_id, "ann@example.com")
        assert await storage.assistants.list_shares(assistant.assistant_id) == []

    @pytest.mark.asyncio
    async def test_shared_with_lists_only_shared_complete_assistants(self, storage: Storage) -> None:
        cases = {
            1: (Visibility.SHARED, AssistantStatus.COMPLETE),
            2: (Visibility.SHARED, AssistantStatus.DRAFT),
            3: (Visibility.SHARED, AssistantStatus.ARCHIVED),
            4: (Visibility.PRIVATE, AssistantStatus.COMPLETE),
            5: (Visibility.SHARED, AssistantStatus.COMPLETE),
        }
        for number, (visibility, status) in cases.items():
            assistant = await storage.assistants.put(
                make_assistant(number, visibility=visibility, status=status)
            )
            await storage.assistants.add_shares(assistant.assistant_id, ["ann@example.com"])
        other = await storage.assistants.put(make_assistant(6, visibility=Visibility.SHARED))
        await storage.assistants.add_shares(other.assistant_id, ["bob@example.com"])
        seen: list[Assistant] = []
        cursor: str | None = None
        while True:
            page = await storage.assistants.list_shared_with("ANN@example.com", limit=1, cursor=cursor)
            seen += page.items
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(ids_of(seen)) == ["ast-000000000001", "ast-000000000005"]

    @pytest.mark.asyncio
    async def test_shared_with_reflects_a_later_visibility_change(self, storage: Storage) -> None:
        assistant = await storage.assistants.put(make_assistant(1, visibility=Visibility.SHARED))
        await storage.assistants.add_shares(assistant.assistant_id, ["ann@example.com"])
        private = assistant.updated(AssistantUpdate(visibility=Visibility.PRIVATE))
        await storage.assistants.put(private, expected_version=assistant.version)
        assert (await storage.assistants.list_shared_with("ann@example.com")).items == []


class TestListPublic:
    @pytest.mark.asyncio
    async def test_public_complete_newest_first(self, storage: Storage) -> None:
        await storage.assistants.put(make_assistant(1, visibility=Visibility.PUBLIC))
        await storage.assistants.put(
            make_assistant(2, visibility=Visibility.PUBLIC, status=AssistantStatus.DRAFT)
        )
        await storage.assistants.put(make_assistant(3, visibility=Visibility.SHARED))
        await storage.assistants.put(
            make_assistant(4, visibility=Visibility.PUBLIC, owner_id=UserId("other"))
        )
        page = await storage.assistants.list_public()
        assert ids_of(page.items) == ["ast-000000000004", "ast-000000000001"]
