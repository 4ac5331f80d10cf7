"""Assistants: creation, the merged listing, owner-only changes, shares, and full deletion.

The listing walks the caller's own assistants, then those shared with their email, then public ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from chat_core.assistants import (
    Assistant,
    AssistantAccess,
    AssistantCreate,
    AssistantShare,
    AssistantStatus,
    AssistantUpdate,
    Visibility,
    assistant_access,
    require_owner,
    require_use,
)
from chat_core.errors import InvalidInputError
from chat_core.identity import User
from chat_core.ids import AssistantId, UserId, validate_id
from chat_core.pagination import Page, decode_cursor, encode_cursor
from chat_core.ports import AssistantRepository, BlobStore, DocumentRepository
from chat_http.knowledge import KnowledgeBases

__all__ = [
    "DEFAULT_DRAFT_NAME",
    "AssistantView",
    "archive_assistant",
    "assistant_prefix",
    "create_assistant",
    "create_draft",
    "delete_assistant",
    "get_assistant",
    "list_assistants",
    "list_shares",
    "load_for_owner",
    "load_for_use",
    "share_assistant",
    "unshare_assistant",
    "update_assistant",
]

DEFAULT_DRAFT_NAME = "Untitled Assistant"
Phase = Literal["own", "shared", "public"]


@dataclass(frozen=True, slots=True)
class AssistantView:
    """An assistant as one caller sees it."""

    assistant: Assistant
    shared_with_me: bool = False
    first_interacted: bool | None = None


def assistant_prefix(assistant_id: str) -> str:
    """Where an assistant's blobs live (its documents), for deleting them in one call."""
    return f"assistants/{assistant_id}/"


async def _share_for(
    assistants: AssistantRepository, assistant: Assistant | None, user: User
) -> AssistantShare | None:
    """The caller's share of a SHARED assistant they do not own (the only case a share matters)."""
    if (
        assistant is None
        or assistant.owner_id == user.user_id
        or assistant.visibility is not Visibility.SHARED
        or not user.email
    ):
        return None
    return await assistants.get_share(assistant.assistant_id, user.email)


async def load_for_use(assistants: AssistantRepository, user: User, assistant_id: str) -> AssistantView:
    """The assistant if the caller may use it (owner, shared with their email, public).

    Raises:
        NotFoundError: missing, or not visible to the caller (nothing is revealed).
    """
    validate_id(assistant_id, field="assistantId")
    assistant = await assistants.get(AssistantId(assistant_id))
    share = await _share_for(assistants, assistant, user)
    found = require_use(assistant_id, assistant, user, share)
    shared = assistant_access(found, user, share) is AssistantAccess.SHARED
    return AssistantView(
        found, shared_with_me=shared, first_interacted=share.first_interacted if share else None
    )


async def load_for_owner(assistants: AssistantRepository, user: User, assistant_id: str) -> Assistant:
    """The assistant if the caller owns it.

    Raises:
        NotFoundError: missing, or not visible to the caller.
        PermissionDeniedError: visible to the caller (shared or public) but not theirs.
    """
    validate_id(assistant_id, field="assistantId")
    assistant = await assistants.get(AssistantId(assistant_id))
    share = await _share_for(assistants, assistant, user)
    return require_owner(assistant_id, assistant, user, share)


async def create_draft(assistants: AssistantRepository, user: User, name: str | None) -> Assistant:
    """A DRAFT assistant the owner completes later."""
    draft = Assistant(
        owner_id=user.user_id,
        owner_name=user.name,
        name=name or DEFAULT_DRAFT_NAME,
        status=AssistantStatus.DRAFT,
    )
    return await assistants.put(draft)


async def create_assistant(
    assistants: AssistantRepository, user: User, request: AssistantCreate
) -> Assistant:
    """A COMPLETE assistant (its `imageUrl` is kept, unlike the original)."""
    assistant = Assistant(
        owner_id=user.user_id,
        owner_name=user.name,
        status=AssistantStatus.COMPLETE,
        **request.model_dump(),
    )
    return await assistants.put(assistant)


async def get_assistant(assistants: AssistantRepository, user: User, assistant_id: str) -> AssistantView:
    """One assistant the caller may use."""
    return await load_for_use(assistants, user, assistant_id)


async def update_assistant(
    assistants: AssistantRepository, user: User, assistant_id: str, changes: AssistantUpdate
) -> Assistant:
    """Owner-only partial update, conditional on the version read (a concurrent change is a 409)."""
    assistant = await load_for_owner(assistants, user, assistant_id)
    return await assistants.put(assistant.updated(changes), expected_version=assistant.version)


async def archive_assistant(assistants: AssistantRepository, user: User, assistant_id: str) -> Assistant:
    """Owner-only: keep the assistant but stop offering it."""
    return await update_assistant(
        assistants, user, assistant_id, AssistantUpdate(status=AssistantStatus.ARCHIVED)
    )


async def delete_assistant(
    assistants: AssistantRepository,
    documents: DocumentRepository,
    blobs: BlobStore,
    knowledge: KnowledgeBases,
    user: User,
    assistant_id: str,
) -> None:
    """Owner-only: remove the index entries, blobs, document records, shares and the assistant.

    The assistant record goes last, so a failure half-way leaves it in place and the delete can simply
    be repeated (every step is idempotent). An ingestion still running for one of its documents finds
    its record gone when it ends and removes its own chunks.
    """
    assistant = await load_for_owner(assistants, user, assistant_id)
    knowledge_base = await knowledge.get()
    await knowledge_base.delete_assistant(assistant.assistant_id)
    await blobs.delete_prefix(assistant_prefix(assistant.assistant_id))
    await documents.delete_all(assistant.assistant_id)
    await assistants.delete(assistant.assistant_id)


def _statuses(include_drafts: bool, include_archived: bool) -> frozenset[AssistantStatus]:
    statuses = {AssistantStatus.COMPLETE}
    if include_drafts:
        statuses.add(AssistantStatus.DRAFT)
    if include_archived:
        statuses.add(AssistantStatus.ARCHIVED)
    return frozenset(statuses)


async def list_assistants(
    assistants: AssistantRepository,
    user: User,
    *,
    limit: int,
    next_token: str | None,
    include_archived: bool,
    include_drafts: bool,
    include_public: bool,
) -> tuple[list[AssistantView], str | None]:
    """The caller's own assistants, then those shared with their email, then (if asked) public ones.

    One opaque token walks the three keyed listings in turn; the caller's own assistants are not
    repeated among the shared or public ones.
    """
    flags = f"{int(include_archived)}{int(include_drafts)}{int(include_public)}"
    phases: list[Phase] = ["own", "shared", "public"] if include_public else ["own", "shared"]
    phase: Phase | None = "own"
    inner: str | None = None
    if next_token is not None:
        position = decode_cursor(next_token, field="next_token")
        if position.get("f") != flags or position.get("p") not in phases:
            raise InvalidInputError("next_token does not belong to this listing.", field="next_token")
        phase, inner = position["p"], position.get("c")
        if inner is not None and not isinstance(inner, str):
            raise InvalidInputError("next_token does not belong to this listing.", field="next_token")
    views: list[AssistantView] = []
    while phase is not None and len(views) < limit:
        page = await _fetch(
            assistants, user, phase, limit - len(views), inner, include_drafts, include_archived
        )
        for assistant in page.items:
            if phase == "own":
                views.append(AssistantView(assistant))
            elif assistant.owner_id != user.user_id:
                views.append(AssistantView(assistant, shared_with_me=phase == "shared"))
        if page.next_cursor is not None:
            inner = page.next_cursor
            continue
        following = phases.index(phase) + 1
        phase, inner = (phases[following] if following < len(phases) else None), None
    token = None if phase is None else encode_cursor({"p": phase, "c": inner, "f": flags})
    return views, token


async def _fetch(
    assistants: AssistantRepository,
    user: User,
    phase: Phase,
    limit: int,
    cursor: str | None,
    include_drafts: bool,
    include_archived: bool,
) -> Page[Assistant]:
    if phase == "own":
        return await assistants.list_owned(
            UserId(user.user_id),
            statuses=_statuses(include_drafts, include_archived),
            limit=limit,
            cursor=cursor,
        )
    if phase == "shared":
        if not user.email:
            return Page[Assistant]()
        return await assistants.list_shared_with(user.email, limit=limit, cursor=cursor)
    return await assistants.list_public(limit=limit, cursor=cursor)


async def list_shares(assistants: AssistantRepository, user: User, assistant_id: str) -> list[str]:
    """Owner-only: the emails the assistant is shared with."""
    assistant = await load_for_owner(assistants, user, assistant_id)
    return [share.email for share in await assistants.list_shares(assistant.assistant_id)]


async def share_assistant(
    assistants: AssistantRepository, user: User, assistant_id: str, emails: Sequence[str]
) -> list[str]:
    """Owner-only: share with more emails (lowercased; existing shares are kept)."""
    assistant = await load_for_owner(assistants, user, assistant_id)
    return [share.email for share in await assistants.add_shares(assistant.assistant_id, emails)]


async def unshare_assistant(
    assistants: AssistantRepository, user: User, assistant_id: str, emails: Sequence[str]
) -> list[str]:
    """Owner-only: stop sharing with these emails; the remaining ones are returned."""
    assistant = await load_for_owner(assistants, user, assistant_id)
    return [share.email for share in await assistants.remove_shares(assistant.assistant_id, emails)]
