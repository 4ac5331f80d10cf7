"""Identifier types, their formats, and how new ones are made.

Ids that reach storage keys or file paths are validated here first, so a backend never builds a key
from a path separator, a quote or ten kilobytes of text.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from typing import NewType

from chat_core.errors import InvalidInputError

__all__ = [
    "EMAIL_PATTERN",
    "AssistantId",
    "DocumentId",
    "ManagedModelId",
    "MessageId",
    "SessionId",
    "UploadId",
    "UserId",
    "message_id",
    "new_assistant_id",
    "new_document_id",
    "new_managed_model_id",
    "new_session_id",
    "new_upload_id",
    "validate_email",
    "validate_id",
]

UserId = NewType("UserId", str)
SessionId = NewType("SessionId", str)
AssistantId = NewType("AssistantId", str)
DocumentId = NewType("DocumentId", str)
UploadId = NewType("UploadId", str)
ManagedModelId = NewType("ManagedModelId", str)
MessageId = NewType("MessageId", str)

_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:+|-]{0,127}")
_EMAIL_CHAR = (
    "[^@/\\\\\"'\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]"
)
"""Anything but `@`, slashes, quotes, control characters and white space (spelled out, so that the
Python, JSON Schema and Rust regex dialects agree on it)."""
_EMAIL_ADDRESS = f"{_EMAIL_CHAR}{{1,128}}@{_EMAIL_CHAR}{{1,253}}"
_EMAIL_PATTERN = re.compile(_EMAIL_ADDRESS)
EMAIL_PATTERN = f"^[ \\t\\n\\r\\f\\v]*{_EMAIL_ADDRESS}[ \\t\\n\\r\\f\\v]*$"
"""What `validate_email` accepts, with the blanks it trims around it: a pattern for JSON Schemas."""


def validate_id(value: str, *, field: str = "id") -> str:
    """Return `value` if it is a safe identifier (1-128 characters of `[A-Za-z0-9_.@:+|-]`).

    `|` is allowed because identity providers use it in subject ids (`auth0|123`).

    Raises:
        InvalidInputError: naming `field`, for anything else (separators, quotes, spaces, overlong).
    """
    if not isinstance(value, str) or not _ID_PATTERN.fullmatch(value) or ".." in value:
        shown = value[:40] + "..." if isinstance(value, str) and len(value) > 40 else value
        raise InvalidInputError(f"{field} {shown!r} is not a valid identifier.", field=field)
    return value


def validate_email(value: str, *, field: str = "email") -> str:
    """Return the trimmed, lowercased email, or raise `InvalidInputError` naming `field`."""
    email = value.strip()
    if not _EMAIL_PATTERN.fullmatch(email):
        raise InvalidInputError(f"{field} {value[:60]!r} is not a valid email address.", field=field)
    return email.lower()


def new_session_id() -> SessionId:
    """A random session id (uuid4), used when a client does not bring its own."""
    return SessionId(str(uuid.uuid4()))


def new_assistant_id() -> AssistantId:
    """`ast-` followed by 12 hex digits, as the original system issued them."""
    return AssistantId(f"ast-{secrets.token_hex(6)}")


def new_document_id() -> DocumentId:
    """`DOC-` followed by 12 hex digits."""
    return DocumentId(f"DOC-{secrets.token_hex(6)}")


def new_upload_id() -> UploadId:
    """`{milliseconds since epoch, hex}_{16 hex digits}`: sortable by creation time, unguessable."""
    return UploadId(f"{int(time.time() * 1000):x}_{secrets.token_hex(8)}")


def new_managed_model_id() -> ManagedModelId:
    """A uuid4 for a managed-model record (distinct from its provider `modelId`)."""
    return ManagedModelId(str(uuid.uuid4()))


def message_id(session_id: SessionId, index: int) -> MessageId:
    """The public id of the `index`-th message of a session: `msg-{sessionId}-{index}`."""
    return MessageId(f"msg-{session_id}-{index}")
