"""What the shared state keeps between requests stays bounded."""

from __future__ import annotations

from chat_core.identity import User
from chat_core.ids import UserId
from chat_http.state import RecordedProfiles


def user(name: str) -> User:
    return User(user_id=UserId(name), email=f"{name}@example.edu")


class TestRecordedProfiles:
    def test_a_caller_is_new_once(self) -> None:
        profiles = RecordedProfiles()
        assert [profiles.first_sight(user("ada")) for _ in range(3)] == [True, False, False]
        assert profiles.first_sight(user("bob"))

    def test_the_least_recently_seen_caller_is_forgotten_beyond_the_bound(self) -> None:
        profiles = RecordedProfiles(maxsize=2)
        for name in ("ada", "bob"):
            profiles.first_sight(user(name))
        assert not profiles.first_sight(user("ada"))  # ada is now the most recently seen
        assert profiles.first_sight(user("carol"))  # bob goes
        assert not profiles.first_sight(user("ada"))
        assert profiles.first_sight(user("bob"))
