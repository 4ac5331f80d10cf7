"""`/sessions`: list, metadata get/put, delete, bulk delete, messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app_api.dependencies import CurrentUser, StorageDep
from app_api.sessions import service
from app_api.sessions.schemas import (
    BulkDeleteItem,
    BulkDeleteRead,
    BulkDeleteRequest,
    MessagePage,
    MessageRead,
    SessionPage,
    SessionRead,
    SessionUpdateRequest,
)
from chat_http.errors import error_responses

__all__ = ["router"]

router = APIRouter(prefix="/sessions", tags=["sessions"])


@router.get("", response_model=SessionPage)
async def read_sessions(
    user: CurrentUser,
    storage: StorageDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response:
    """The caller's active sessions, newest first."""
    page = await service.list_sessions(storage.sessions, user, limit=limit, next_token=next_token)
    # The listing is the hottest read: its JSON is written straight from the stored sessions (the
    # same bytes a `SessionPage` gives), not converted and validated again on the way out.
    return Response(SessionPage.json_of(page), media_type="application/json")


@router.get("/{session_id}/metadata", response_model=SessionRead, responses=error_responses(404))
async def read_session(session_id: str, user: CurrentUser, storage: StorageDep) -> SessionRead:
    """One session's metadata."""
    return SessionRead.of(await service.get_session(storage.sessions, user, session_id))


@router.put("/{session_id}/metadata", response_model=SessionRead, responses=error_responses(404))
async def update_session(
    session_id: str, body: SessionUpdateRequest, user: CurrentUser, storage: StorageDep
) -> SessionRead:
    """Create or update; preferences merge field by field, and concurrent updates never lose one.

    `status: "deleted"` deletes the session, as `DELETE` does.
    """
    session = await service.update_session(
        storage.sessions, storage.files, storage.blobs, user, session_id, body.to_update()
    )
    return SessionRead.of(session)


@router.delete(
    "/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(404),
)
async def delete_session(session_id: str, user: CurrentUser, storage: StorageDep) -> Response:
    """Soft-delete the session and delete the files uploaded to it."""
    await service.delete_session(storage.sessions, storage.files, storage.blobs, user, session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/bulk-delete", response_model=BulkDeleteRead)
async def bulk_delete_sessions(
    body: BulkDeleteRequest, user: CurrentUser, storage: StorageDep
) -> BulkDeleteRead:
    """Delete 1 to 20 sessions; each id gets its own result."""
    results = await service.bulk_delete_sessions(
        storage.sessions, storage.files, storage.blobs, user, body.session_ids
    )
    deleted = sum(result.success for result in results)
    return BulkDeleteRead(
        deleted_count=deleted,
        failed_count=len(results) - deleted,
        results=[
            BulkDeleteItem(session_id=result.session_id, success=result.success, error=result.error)
            for result in results
        ],
    )


@router.get("/{session_id}/messages", response_model=MessagePage, responses=error_responses(404))
async def read_messages(
    session_id: str,
    user: CurrentUser,
    storage: StorageDep,
    limit: Annotated[
        int | None,
        Query(ge=1, le=1000, description="Page size; omitted = the whole conversation (see nextToken)"),
    ] = None,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> MessagePage:
    """The session's messages, oldest first."""
    page = await service.list_messages(
        storage.sessions, storage.messages, user, session_id, limit=limit, next_token=next_token
    )
    return MessagePage(messages=[MessageRead.of(item) for item in page.items], next_token=page.next_cursor)
