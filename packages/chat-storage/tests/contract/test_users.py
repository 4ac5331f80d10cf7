from __future__ import annotations

import pytest

from chat_core.identity import User
from chat_core.ids import UserId
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
