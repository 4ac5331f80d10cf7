"""Who is calling: the identity every request carries once its token is verified."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from chat_core._base import CamelModel
from chat_core.clock import utc_now
from chat_core.ids import UserId

__all__ = ["User", "UserProfile"]


class User(CamelModel):
    """A verified caller. `email` is lowercased; `roles` come from the token's roles claim."""

    user_id: UserId
    email: str
    name: str = ""
    roles: list[str] = Field(default_factory=list)

    def has_any_role(self, roles: set[str] | frozenset[str]) -> bool:
        """True when the caller holds at least one of `roles`."""
        return not roles.isdisjoint(self.roles)


class UserProfile(CamelModel):
    """What the share picker may show about someone who has signed in."""

    user_id: UserId
    email: str
    name: str = ""
    first_seen_at: datetime = Field(default_factory=utc_now)
