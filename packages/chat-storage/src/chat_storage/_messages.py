"""Messages as both backends store them: a draft's JSON plus the id and index storage assigns."""

from __future__ import annotations

import json
from collections.abc import Iterable

from pydantic import TypeAdapter

from chat_core.ids import SessionId, message_id
from chat_core.messages import Message, MessageDraft

__all__ = ["message_body", "messages_from_json", "stored_message"]

_MESSAGES: TypeAdapter[list[Message]] = TypeAdapter(list[Message])


def messages_from_json(bodies: Iterable[str]) -> list[Message]:
    """Stored message bodies as messages, validated in one call (in pydantic's core, not per message)."""
    return _MESSAGES.validate_json(f"[{','.join(bodies)}]")


def message_body(draft_json: str, session_id: SessionId, index: int) -> str:
    """The stored JSON of a message: its draft's JSON with the id and index added.

    The draft's JSON (`model_dump_json(by_alias=True)`) is made before any lock or request; this only
    appends the two fields storage assigns, without serialising the message again.
    """
    return f'{draft_json[:-1]},"id":{json.dumps(message_id(session_id, index))},"index":{index}}}'


def stored_message(draft: MessageDraft, session_id: SessionId, index: int) -> Message:
    """The `Message` a stored draft became: the draft is valid already, only the id and index are new."""
    return Message.model_construct(**dict(draft), id=message_id(session_id, index), index=index)
