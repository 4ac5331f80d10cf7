"""Who is calling: the identity every request carries once its token is verified."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field

from chat_core._base import CamelModel
from chat_core.clock import utc_now
from chat_core.ids import UserId
from chat_core.limits import clean_person_name

__all__ = ["LoginState", "User", "UserProfile", "UserStatus", "email_domain"]


PersonName = Annotated[str, AfterValidator(clean_person_name)]
"""A name shown to other people (share picker, assistant owner): cleaned, at most 200 characters."""


class User(CamelModel):
    """A verified caller. `email` is lowercased; `roles` come from the token's roles claim."""

    user_id: UserId
    email: str
    name: PersonName = ""
    roles: list[str] = Field(default_factory=list)

    def has_any_role(self, roles: set[str] | frozenset[str]) -> bool:
        """True when the caller holds at least one of `roles`."""
        return not roles.isdisjoint(self.roles)


class UserStatus(StrEnum):
    """An account's standing, as administrators see it."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    SUSPENDED = "suspended"


def email_domain(email: str) -> str:
    """The lowercased part after the last `@` (empty without one)."""
    return email.rpartition("@")[2].strip().lower() if "@" in email else ""


class UserProfile(CamelModel):
    """Someone who has signed in: recorded on first sight of their token and on each login."""

    user_id: UserId
    email: str
    name: PersonName = ""
    first_seen_at: datetime = Field(default_factory=utc_now)
    roles: list[str] = Field(default_factory=list)
    """The JWT roles of their last login (or first token)."""
    email_domain: str = ""
    last_login_at: datetime | None = None
    status: UserStatus = UserStatus.ACTIVE

    @classmethod
    def of(cls, user: User, *, at: datetime) -> UserProfile:
        """The profile a verified token describes, seen at `at`."""
        return cls(
            user_id=user.user_id,
            email=user.email,
            name=user.name,
            first_seen_at=at,
            roles=list(user.roles),
            email_domain=email_domain(user.email),
            last_login_at=at,
        )


class LoginState(CamelModel):
    """What a sign-in started on one replica needs to finish on any replica (stored server-side).

    Single use: taking it deletes it. It expires `expires_at` (10 minutes after creation).
    """

    state: str = Field(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    code_verifier: str = Field(min_length=43, max_length=128)
    nonce: str = Field(min_length=16, max_length=128)
    redirect_uri: str = Field(min_length=1, max_length=2000)
    created_at: datetime = Field(default_factory=utc_now)
    expires_at: datetime
