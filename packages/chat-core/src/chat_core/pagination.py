"""One page of a keyed listing, and the opaque cursor that fetches the next one."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Generic, TypeVar

from pydantic import Field

from chat_core._base import CamelModel
from chat_core.errors import InvalidInputError

__all__ = ["MAX_PAGE_SIZE", "Page", "decode_cursor", "encode_cursor", "validate_limit"]

T = TypeVar("T")

MAX_PAGE_SIZE = 1000
_MAX_CURSOR_LENGTH = 2048


class Page(CamelModel, Generic[T]):
    """Items of one page; `next_cursor` is `None` on the last page."""

    items: list[T] = Field(default_factory=list)
    next_cursor: str | None = None


def encode_cursor(position: dict[str, Any]) -> str:
    """Encode a backend's position (e.g. a DynamoDB key) as an opaque URL-safe string."""
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, field: str = "cursor") -> dict[str, Any]:
    """Decode a cursor made by `encode_cursor`.

    Backends still check that the decoded keys belong to the caller's partition.

    Raises:
        InvalidInputError: for anything that is not a cursor this platform issued.
    """
    if len(cursor) > _MAX_CURSOR_LENGTH:
        raise InvalidInputError("The pagination cursor is too long.", field=field)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInputError("The pagination cursor is not valid.", field=field) from exc
    if not isinstance(position, dict):
        raise InvalidInputError("The pagination cursor is not valid.", field=field)
    return position


def validate_limit(limit: int, *, maximum: int = MAX_PAGE_SIZE, field: str = "limit") -> int:
    """Return `limit` if it is between 1 and `maximum`, else raise `InvalidInputError`."""
    if not 1 <= limit <= maximum:
        raise InvalidInputError(f"{field} must be between 1 and {maximum}.", field=field)
    return limit
