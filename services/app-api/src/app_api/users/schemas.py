"""HTTP shapes of `/users/search` (the original's names)."""

from __future__ import annotations

from app_api.schemas import ApiModel
from chat_core.identity import UserProfile

__all__ = ["UserSearchItem", "UserSearchRead"]


class UserSearchItem(ApiModel):
    """`UserSearchResult`."""

    user_id: str
    email: str
    name: str

    @classmethod
    def of(cls, profile: UserProfile) -> UserSearchItem:
        """What the picker shows about a person."""
        return cls(user_id=profile.user_id, email=profile.email, name=profile.name)


class UserSearchRead(ApiModel):
    """`UserSearchResponse`."""

    users: list[UserSearchItem]
