"""Session titles: the title model's, or else the first words of the message.

A failing model never fails the request, and a title that is already set is never overwritten.
"""

from __future__ import annotations

import asyncio
import logging

from app_api.chat.titles import TitleModel
from chat_core.errors import ConflictError
from chat_core.identity import User
from chat_core.ids import SessionId, validate_id
from chat_core.ports import SessionRepository
from chat_core.sessions import DEFAULT_SESSION_TITLE, SessionMetadata, SessionUpdate, fallback_title

__all__ = ["MAX_TITLE_INPUT", "clean_title", "generate_title", "suggest_title"]

logger = logging.getLogger(__name__)

MAX_TITLE_INPUT = 2000
"""Characters of the message a title is made from (the rest is never read)."""
_ATTEMPTS = 3
_QUOTES = "\"'`“”‘’«»*#"


def clean_title(answer: str) -> str:
    """A model's answer as a title: its first non-empty line, unquoted, at most 50 characters.

    Empty when nothing usable is left.
    """
    for line in answer.splitlines():
        text = line.strip().strip(_QUOTES).strip()
        if text.lower().startswith("title:"):
            text = text[len("title:") :].strip().strip(_QUOTES).strip()
        if text:
            return fallback_title(text)
    return ""


async def suggest_title(model: TitleModel | None, text: str, *, time_limit: float) -> str:
    """A title for `text`: the model's, or the first words when there is no model or it fails."""
    text = text[:MAX_TITLE_INPUT]
    if model is not None and text.strip():
        try:
            async with asyncio.timeout(time_limit):
                title = clean_title(await model.generate(text))
            if title:
                return title
        except Exception as exc:
            # JUSTIFICATION: a title is optional; any model failure falls back to the first words.
            logger.warning("title model failed (%s); using the first words", type(exc).__name__)
    return fallback_title(text)


async def generate_title(
    sessions: SessionRepository,
    model: TitleModel | None,
    user: User,
    session_id: str,
    text: str,
    *,
    time_limit: float,
) -> str:
    """Name the caller's session unless it already has a title (the user's always wins).

    The write is conditional on the version read, so a title the user sets meanwhile is never
    overwritten; the session is created when the first turn has not stored it yet.
    """
    sid = SessionId(validate_id(session_id, field="session_id"))
    session: SessionMetadata | None = await sessions.get(user.user_id, sid)
    if session is None:
        session = await sessions.update(user.user_id, sid, SessionUpdate())
    if session.title != DEFAULT_SESSION_TITLE or session.deleted:
        return session.title
    title = await suggest_title(model, text, time_limit=time_limit)
    for _ in range(_ATTEMPTS):
        try:
            return (
                await sessions.update(
                    user.user_id, sid, SessionUpdate(title=title), expected_version=session.version
                )
            ).title
        except ConflictError:
            # JUSTIFICATION: another write won the race; re-read and decide again, so the user's title wins.
            current = await sessions.get(user.user_id, sid)
            if current is None or current.title != DEFAULT_SESSION_TITLE or current.deleted:
                return current.title if current is not None else title
            session = current
    return title
