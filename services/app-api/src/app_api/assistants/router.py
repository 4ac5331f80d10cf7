"""`/assistants`: drafts, creation, the merged listing, owner-only changes, archive, delete, shares."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sse_starlette import EventSourceResponse

from app_api.assistants import service
from app_api.assistants.schemas import (
    AssistantCreateDraft,
    AssistantCreateRequest,
    AssistantPage,
    AssistantRead,
    AssistantShares,
    AssistantUpdateRequest,
    ShareRequest,
    TestChatRequest,
)
from app_api.assistants.service import AssistantView
from app_api.assistants.test_chat import start_test_chat
from app_api.dependencies import CurrentPermissions, CurrentUser, KnowledgeDep, StateDep, StorageDep
from chat_http.errors import error_doc, error_responses

__all__ = ["router"]

router = APIRouter(prefix="/assistants", tags=["assistants"])
_OWNER_ONLY = error_responses(403, 404)


@router.post("/draft", response_model=AssistantRead, status_code=status.HTTP_201_CREATED)
async def create_draft(body: AssistantCreateDraft, user: CurrentUser, storage: StorageDep) -> AssistantRead:
    """Start a DRAFT assistant (name defaults to "Untitled Assistant")."""
    return AssistantRead.of(AssistantView(await service.create_draft(storage.assistants, user, body.name)))


@router.post("", response_model=AssistantRead, status_code=status.HTTP_201_CREATED)
async def create_assistant(
    body: AssistantCreateRequest, user: CurrentUser, storage: StorageDep
) -> AssistantRead:
    """Create a COMPLETE assistant owned by the caller."""
    created = await service.create_assistant(storage.assistants, user, body.to_create())
    return AssistantRead.of(AssistantView(created))


@router.get("", response_model=AssistantPage)
async def read_assistants(
    user: CurrentUser,
    storage: StorageDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
    include_archived: bool = False,
    include_drafts: bool = False,
    include_public: bool = False,
) -> AssistantPage:
    """Own assistants, then those shared with the caller's email, then public ones when asked."""
    views, token = await service.list_assistants(
        storage.assistants,
        user,
        limit=limit,
        next_token=next_token,
        include_archived=include_archived,
        include_drafts=include_drafts,
        include_public=include_public,
    )
    return AssistantPage(assistants=[AssistantRead.of(view) for view in views], next_token=token)


@router.get("/{assistant_id}", response_model=AssistantRead, responses=error_responses(404))
async def read_assistant(assistant_id: str, user: CurrentUser, storage: StorageDep) -> AssistantRead:
    """One assistant the caller may use; a private one of someone else is 404."""
    return AssistantRead.of(await service.get_assistant(storage.assistants, user, assistant_id))


@router.put("/{assistant_id}", response_model=AssistantRead, responses=error_responses(403, 404, 409))
async def update_assistant(
    assistant_id: str, body: AssistantUpdateRequest, user: CurrentUser, storage: StorageDep
) -> AssistantRead:
    """Owner-only partial update."""
    updated = await service.update_assistant(storage.assistants, user, assistant_id, body.to_update())
    return AssistantRead.of(AssistantView(updated))


@router.post(
    "/{assistant_id}/archive", response_model=AssistantRead, responses=error_responses(403, 404, 409)
)
async def archive_assistant(assistant_id: str, user: CurrentUser, storage: StorageDep) -> AssistantRead:
    """Owner-only: set the status to ARCHIVED."""
    return AssistantRead.of(
        AssistantView(await service.archive_assistant(storage.assistants, user, assistant_id))
    )


@router.delete(
    "/{assistant_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=_OWNER_ONLY,
)
async def delete_assistant(
    assistant_id: str, user: CurrentUser, storage: StorageDep, knowledge: KnowledgeDep
) -> Response:
    """Owner-only: delete the assistant with its shares, documents, blobs and index entries."""
    await service.delete_assistant(
        storage.assistants, storage.documents, storage.blobs, knowledge, user, assistant_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{assistant_id}/shares", response_model=AssistantShares, responses=_OWNER_ONLY)
async def read_shares(assistant_id: str, user: CurrentUser, storage: StorageDep) -> AssistantShares:
    """Owner-only: who the assistant is shared with."""
    emails = await service.list_shares(storage.assistants, user, assistant_id)
    return AssistantShares(assistant_id=assistant_id, shared_with=emails)


@router.post("/{assistant_id}/shares", response_model=AssistantShares, responses=_OWNER_ONLY)
async def create_shares(
    assistant_id: str, body: ShareRequest, user: CurrentUser, storage: StorageDep
) -> AssistantShares:
    """Owner-only: share with these emails (it counts while the visibility is SHARED)."""
    emails = await service.share_assistant(storage.assistants, user, assistant_id, body.emails)
    return AssistantShares(assistant_id=assistant_id, shared_with=emails)


@router.delete("/{assistant_id}/shares", response_model=AssistantShares, responses=_OWNER_ONLY)
async def delete_shares(
    assistant_id: str, body: ShareRequest, user: CurrentUser, storage: StorageDep
) -> AssistantShares:
    """Owner-only: stop sharing with these emails."""
    emails = await service.unshare_assistant(storage.assistants, user, assistant_id, body.emails)
    return AssistantShares(assistant_id=assistant_id, shared_with=emails)


@router.post(
    "/{assistant_id}/test-chat",
    response_class=EventSourceResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`debug` (`{type: rag_debug, chunk_count, chunks}`), then the turn's events as "
            "`/invocations` streams them",
        },
        400: error_doc("No document of the assistant is complete yet"),
        **_OWNER_ONLY,
        502: error_doc("The model provider failed before the first event"),
    },
)
async def test_assistant_chat(
    assistant_id: str,
    body: TestChatRequest,
    user: CurrentUser,
    permissions: CurrentPermissions,
    state: StateDep,
) -> EventSourceResponse:
    """Owner-only: a test turn over the assistant's knowledge with the default model; nothing is stored."""
    started = time.perf_counter()
    frames = await start_test_chat(
        state.storage,
        state.knowledge,
        state.previews,
        state.settings,
        user,
        permissions,
        assistant_id,
        body.message,
        started=started,
    )
    return EventSourceResponse(
        frames, headers={"Cache-Control": "no-cache"}, ping=state.settings.sse_ping_seconds, sep="\n"
    )
