"""Sessions: listing, metadata reads and merges, soft deletion (with the session's files), messages."""

from __future__ import annotations

from dataclasses import dataclass

from chat_core.errors import InvalidInputError, NotFoundError
from chat_core.identity import User
from chat_core.ids import SessionId, validate_id
from chat_core.messages import Message
from chat_core.pagination import MAX_PAGE_SIZE, Page
from chat_core.ports import BlobStore, FileRepository, MessageRepository, SessionRepository
from chat_core.sessions import SessionMetadata, SessionUpdate

__all__ = [
    "WHOLE_CONVERSATION_LIMIT",
    "BulkDeleteResult",
    "bulk_delete_sessions",
    "delete_session",
    "get_session",
    "list_messages",
    "list_sessions",
    "update_session",
]

_FILE_PAGE = 100
WHOLE_CONVERSATION_LIMIT = 10_000
"""Most messages returned when no `limit` is given (the frontend never pages); more come with a token."""


@dataclass(frozen=True, slots=True)
class BulkDeleteResult:
    """What happened to one id of a bulk delete."""

    session_id: str
    success: bool
    error: str | None = None


def _not_found(session_id: str) -> NotFoundError:
    return NotFoundError(f"Session {session_id!r} was not found.")


async def list_sessions(
    sessions: SessionRepository, user: User, *, limit: int, next_token: str | None
) -> Page[SessionMetadata]:
    """The caller's active sessions, newest first."""
    return await sessions.list(user.user_id, limit=limit, cursor=next_token)


async def get_session(sessions: SessionRepository, user: User, session_id: str) -> SessionMetadata:
    """One of the caller's sessions; deleted ones (and anyone else's) are 404."""
    session = await sessions.get(user.user_id, SessionId(validate_id(session_id, field="sessionId")))
    if session is None or session.deleted:
        raise _not_found(session_id)
    return session


async def update_session(
    sessions: SessionRepository,
    files: FileRepository,
    blobs: BlobStore,
    user: User,
    session_id: str,
    changes: SessionUpdate,
) -> SessionMetadata:
    """Create-or-merge the caller's session; preferences merge key by key in storage, atomically.

    `status: "deleted"` deletes the session exactly as `DELETE /sessions/{id}` does (its files too),
    after applying the other changes: there is one way to be deleted.

    Raises:
        NotFoundError: the session was deleted (or, when deleting, does not exist).
    """
    sid = SessionId(validate_id(session_id, field="sessionId"))
    current = await sessions.get(user.user_id, sid)
    if current is not None and current.deleted:
        raise _not_found(session_id)
    if not changes.deletes():
        return await sessions.update(user.user_id, sid, changes)
    if current is None:
        raise _not_found(session_id)
    others = changes.model_copy(update={"status": None})
    if not others.is_empty():
        await sessions.update(user.user_id, sid, others)
    await delete_session(sessions, files, blobs, user, session_id)
    deleted = await sessions.get(user.user_id, sid)
    assert deleted is not None, "soft deletion keeps the record"
    return deleted


async def delete_session(
    sessions: SessionRepository, files: FileRepository, blobs: BlobStore, user: User, session_id: str
) -> None:
    """Soft-delete the session, then delete the files uploaded to it (records, quota and blobs)."""
    sid = SessionId(validate_id(session_id, field="sessionId"))
    if not await sessions.soft_delete(user.user_id, sid):
        raise _not_found(session_id)
    while True:
        page = await files.list(user.user_id, session_id=sid, status="any", limit=_FILE_PAGE)
        for upload in page.items:
            await blobs.delete(upload.storage_key)
            await files.delete(user.user_id, upload.upload_id)
        if not page.items:
            return


async def bulk_delete_sessions(
    sessions: SessionRepository, files: FileRepository, blobs: BlobStore, user: User, session_ids: list[str]
) -> list[BulkDeleteResult]:
    """Delete each session; a missing or malformed id is reported in its result, not raised."""
    results = []
    for session_id in dict.fromkeys(session_ids):
        try:
            await delete_session(sessions, files, blobs, user, session_id)
        except (NotFoundError, InvalidInputError) as exc:
            # JUSTIFICATION: per-id outcomes are the response of a bulk delete; outages still raise.
            results.append(BulkDeleteResult(session_id, success=False, error=exc.message))
        else:
            results.append(BulkDeleteResult(session_id, success=True))
    return results


async def list_messages(
    sessions: SessionRepository,
    messages: MessageRepository,
    user: User,
    session_id: str,
    *,
    limit: int | None,
    next_token: str | None,
) -> Page[Message]:
    """Messages of one of the caller's sessions, oldest first.

    Without a `limit`, every message up to `WHOLE_CONVERSATION_LIMIT` (read page by page): the
    frontend asks once and never follows `next_token`, so a long conversation must come back whole.
    """
    session = await get_session(sessions, user, session_id)
    if limit is not None:
        return await messages.list(user.user_id, session.session_id, limit=limit, cursor=next_token)
    items: list[Message] = []
    cursor = next_token
    while len(items) < WHOLE_CONVERSATION_LIMIT:
        size = min(MAX_PAGE_SIZE, WHOLE_CONVERSATION_LIMIT - len(items))
        page = await messages.list(user.user_id, session.session_id, limit=size, cursor=cursor)
        items += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    return Page[Message](items=items, next_cursor=cursor)
