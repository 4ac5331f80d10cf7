"""Finding people who have signed in, for the share picker."""

from __future__ import annotations

from chat_core.identity import UserProfile
from chat_core.ports import UserRepository

__all__ = ["search_users"]


async def search_users(users: UserRepository, query: str, *, limit: int) -> list[UserProfile]:
    """Profiles whose email or name starts with `query` (case-insensitive)."""
    return await users.search(query, limit=limit)
