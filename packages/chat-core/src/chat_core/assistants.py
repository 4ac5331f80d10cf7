"""Assistants (an instruction set plus a knowledge base) and who may see or use them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from chat_core._base import CamelModel
from chat_core.clock import utc_now
from chat_core.errors import NotFoundError, PermissionDeniedError
from chat_core.fields import NOT_NULL, omittable
from chat_core.identity import User
from chat_core.ids import AssistantId, UserId, new_assistant_id
from chat_core.limits import (
    ASSISTANT_TAGS_MAX,
    DESCRIPTION_MAX_CHARS,
    INSTRUCTIONS_MAX_CHARS,
    URL_MAX_CHARS,
    DisplayName,
    Tag,
)

__all__ = [
    "Assistant",
    "AssistantAccess",
    "AssistantCreate",
    "AssistantShare",
    "AssistantStatus",
    "AssistantUpdate",
    "Visibility",
    "assistant_access",
    "require_owner",
    "require_use",
]


class Visibility(StrEnum):
    """PRIVATE: owner only. SHARED: owner and the emails it is shared with. PUBLIC: everyone."""

    PRIVATE = "PRIVATE"
    SHARED = "SHARED"
    PUBLIC = "PUBLIC"


class AssistantStatus(StrEnum):
    """A draft is being set up; an archived assistant is kept but no longer offered."""

    DRAFT = "DRAFT"
    COMPLETE = "COMPLETE"
    ARCHIVED = "ARCHIVED"


class AssistantAccess(StrEnum):
    """How the caller relates to an assistant."""

    OWNER = "owner"
    SHARED = "shared"
    PUBLIC = "public"
    NONE = "none"


class AssistantCreate(CamelModel):
    """What a user sends to create an assistant."""

    name: DisplayName
    description: str = Field(default="", max_length=DESCRIPTION_MAX_CHARS)
    instructions: str = Field(default="", max_length=INSTRUCTIONS_MAX_CHARS)
    visibility: Visibility = Visibility.PRIVATE
    tags: list[Tag] = Field(default_factory=list, max_length=ASSISTANT_TAGS_MAX)
    image_url: str | None = Field(default=None, max_length=URL_MAX_CHARS)


class AssistantUpdate(CamelModel):
    """A partial change to an assistant; only the fields sent are applied (`imageUrl: null` clears it)."""

    name: Annotated[DisplayName | None, NOT_NULL] = omittable()
    description: Annotated[str | None, NOT_NULL] = omittable(max_length=DESCRIPTION_MAX_CHARS)
    instructions: Annotated[str | None, NOT_NULL] = omittable(max_length=INSTRUCTIONS_MAX_CHARS)
    visibility: Annotated[Visibility | None, NOT_NULL] = omittable()
    tags: Annotated[list[Tag] | None, NOT_NULL] = omittable(max_length=ASSISTANT_TAGS_MAX)
    image_url: str | None = Field(default=None, max_length=URL_MAX_CHARS)
    status: Annotated[AssistantStatus | None, NOT_NULL] = omittable()


class Assistant(CamelModel):
    """An assistant as stored; `version` guards conditional updates."""

    assistant_id: AssistantId = Field(default_factory=new_assistant_id)
    owner_id: UserId
    owner_name: str = ""
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    instructions: str = ""
    vector_index_id: str | None = None
    visibility: Visibility = Visibility.PRIVATE
    tags: list[str] = Field(default_factory=list)
    usage_count: int = 0
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    status: AssistantStatus = AssistantStatus.COMPLETE
    image_url: str | None = None
    version: int = Field(default=1, ge=1)

    def updated(self, changes: AssistantUpdate) -> Assistant:
        """A copy with `changes` applied, `updated_at` moved on and the version bumped."""
        merged = self.model_dump() | changes.model_dump(exclude_unset=True)
        merged |= {"updated_at": utc_now(), "version": self.version + 1}
        return Assistant.model_validate(merged)


class AssistantShare(CamelModel):
    """An assistant shared with one email address (lowercased)."""

    assistant_id: AssistantId
    email: str
    created_at: datetime = Field(default_factory=utc_now)
    first_interacted: bool = False


def assistant_access(assistant: Assistant, user: User, share: AssistantShare | None) -> AssistantAccess:
    """How `user` may reach `assistant`, given the share record for their email (if any).

    A share only counts while the assistant is SHARED; a share for another email never counts.
    """
    if assistant.owner_id == user.user_id:
        return AssistantAccess.OWNER
    if assistant.status is AssistantStatus.DRAFT:
        return AssistantAccess.NONE
    if assistant.visibility is Visibility.PUBLIC:
        return AssistantAccess.PUBLIC
    shared = share is not None and share.assistant_id == assistant.assistant_id and share.email == user.email
    if assistant.visibility is Visibility.SHARED and shared:
        return AssistantAccess.SHARED
    return AssistantAccess.NONE


def _not_found(assistant_id: str) -> NotFoundError:
    return NotFoundError(f"Assistant {assistant_id!r} was not found.")


def require_use(
    assistant_id: str, assistant: Assistant | None, user: User, share: AssistantShare | None
) -> Assistant:
    """Return the assistant if `user` may use it; otherwise `NotFoundError`, revealing nothing."""
    if assistant is None or assistant_access(assistant, user, share) is AssistantAccess.NONE:
        raise _not_found(assistant_id)
    return assistant


def require_owner(
    assistant_id: str, assistant: Assistant | None, user: User, share: AssistantShare | None = None
) -> Assistant:
    """Return the assistant if `user` owns it.

    Raises:
        NotFoundError: when the assistant is missing or the caller may not even see it.
        PermissionDeniedError: when the caller may use it but is not its owner.
    """
    access = AssistantAccess.NONE if assistant is None else assistant_access(assistant, user, share)
    if assistant is None or access is AssistantAccess.NONE:
        raise _not_found(assistant_id)
    if access is not AssistantAccess.OWNER:
        raise PermissionDeniedError("Only the owner may change this assistant.")
    return assistant
