from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chat_core.errors import InvalidInputError
from chat_core.identity import User, UserProfile, UserStatus
from chat_core.ids import UserId
from chat_core.pagination import Page
from chat_storage import Storage

PEOPLE = [
    User(user_id=UserId("u-1"), email="ada@example.com", name="Ada Lovelace"),
    User(user_id=UserId("u-2"), email="alan@example.org", name="Alan Turing"),
    User(user_id=UserId("u-3"), email="grace@example.com", name="Grace Hopper"),
    User(user_id=UserId("u-4"), email="zoe@example.com", name="Émile Zola"),
]


class TestRemember:
    @pytest.mark.asyncio
    async def test_new_once(self, storage: Storage) -> None:
        assert await storage.users.remember(PEOPLE[0]) is True
        assert await storage.users.remember(PEOPLE[0]) is False
        [profile] = await storage.users.search("ada")
        assert (profile.user_id, profile.email, profile.name) == ("u-1", "ada@example.com", "Ada Lovelace")


class TestSearch:
    @pytest.mark.asyncio
    async def test_email_or_name_prefix_case_insensitive(self, storage: Storage) -> None:
        for person in PEOPLE:
            await storage.users.remember(person)
        assert sorted(p.user_id for p in await storage.users.search("A")) == ["u-1", "u-2"]
        assert [p.user_id for p in await storage.users.search("GRACE H")] == ["u-3"]
        assert [p.user_id for p in await storage.users.search("émile")] == ["u-4"]
        assert [p.user_id for p in await storage.users.search("zoe@")] == ["u-4"]

    @pytest.mark.asyncio
    async def test_only_prefixes_match(self, storage: Storage) -> None:
        for person in PEOPLE:
            await storage.users.remember(person)
        assert await storage.users.search("lovelace") == []
        assert await storage.users.search("example") == []

    @pytest.mark.asyncio
    async def test_limit(self, storage: Storage) -> None:
        for person in PEOPLE:
            await storage.users.remember(person)
        assert len(await storage.users.search("a", limit=1)) == 1


class TestProfiles:
    @pytest.mark.asyncio
    async def test_first_sight_records_roles_and_domain(self, storage: Storage) -> None:
        await storage.users.remember(
            User(user_id=UserId("p-1"), email="ada@math.example.com", name="Ada", roles=["Staff"])
        )
        profile = await storage.users.get(UserId("p-1"))
        assert profile is not None
        assert (profile.roles, profile.email_domain, profile.status) == (
            ["Staff"],
            "math.example.com",
            "active",
        )
        assert profile.last_login_at is not None

    @pytest.mark.asyncio
    async def test_login_refreshes_but_keeps_first_seen(self, storage: Storage) -> None:
        first = User(user_id=UserId("p-2"), email="bo@example.com", name="Bo", roles=["A"])
        await storage.users.remember(first)
        before = await storage.users.get(UserId("p-2"))
        assert before is not None
        later = before.first_seen_at + timedelta(hours=1)
        after = await storage.users.record_login(
            first.model_copy(update={"roles": ["B"], "name": "Bo B"}), at=later
        )
        assert (after.roles, after.name, after.last_login_at) == (["B"], "Bo B", later)
        assert after.first_seen_at == before.first_seen_at
        assert await storage.users.get(UserId("p-2")) == after
        assert await storage.users.get_by_email("BO@example.com") == after

    @pytest.mark.asyncio
    async def test_list_newest_login_first_with_filters_and_cursor(self, storage: Storage) -> None:
        start = datetime(2025, 1, 1, tzinfo=UTC)
        for n in range(5):
            domain = "a.example" if n % 2 == 0 else "b.example"
            await storage.users.record_login(
                User(user_id=UserId(f"l-{n}"), email=f"u{n}@{domain}", name=f"U{n}"),
                at=start + timedelta(minutes=n),
            )
        first = await storage.users.list(limit=2)
        assert [p.user_id for p in first.items] == ["l-4", "l-3"]
        assert first.next_cursor is not None
        second = await storage.users.list(limit=2, cursor=first.next_cursor)
        assert [p.user_id for p in second.items] == ["l-2", "l-1"]
        by_domain = await storage.users.list(domain="A.example", limit=10)
        assert [p.user_id for p in by_domain.items] == ["l-4", "l-2", "l-0"]
        active = await storage.users.list(status=UserStatus.ACTIVE, domain="b.example", limit=10)
        assert [p.user_id for p in active.items] == ["l-3", "l-1"]
        assert await storage.users.list(status=UserStatus.SUSPENDED, limit=10) == Page[UserProfile]()
        assert await storage.users.domains() == ["a.example", "b.example"]

    @pytest.mark.asyncio
    async def test_cursor_of_another_listing_is_refused(self, storage: Storage) -> None:
        start = datetime(2025, 1, 1, tzinfo=UTC)
        for n in range(3):
            await storage.users.record_login(
                User(user_id=UserId(f"c-{n}"), email=f"c{n}@x.example"), at=start + timedelta(minutes=n)
            )
        page = await storage.users.list(limit=1)
        assert page.next_cursor is not None
        with pytest.raises(InvalidInputError):
            await storage.users.list(domain="x.example", limit=1, cursor=page.next_cursor)
