"""One page of a keyed listing, and the opaque cursor that fetches the next one."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from chat_core._base import CamelModel
from chat_core.errors import InvalidInputError

__all__ = ["MAX_PAGE_SIZE", "CursorCodec", "Page", "decode_cursor", "encode_cursor", "validate_limit"]

T = TypeVar("T")

MAX_PAGE_SIZE = 1000
_MAX_CURSOR_LENGTH = 2048
_MAX_CURSOR_VALUE = 1024
_LISTING_KEY = "l"


_PAGE_TYPES: set[type[BaseModel]] = set()


class Page(CamelModel, Generic[T]):
    """Items of one page; `next_cursor` is `None` on the last page."""

    items: list[T] = Field(default_factory=list)
    next_cursor: str | None = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Keep every `Page[X]` for the life of the process.

        pydantic caches parametrised models weakly: a `Page[X]` that nothing else holds was built again
        (about 0.5 ms) after each garbage collection, one listing in seven under load.
        """
        super().__pydantic_init_subclass__(**kwargs)
        _PAGE_TYPES.add(cls)


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


class CursorCodec:
    """Encodes and checks the keyset cursors of one listing, for every storage backend.

    A cursor holds the sort-key values of the last item shown and a short fingerprint of the listing
    (which table, whose partition, which filter and order). A cursor from another listing or another
    user, or one edited into a different shape, is refused with `InvalidInputError`; one whose values
    were edited can at worst move the position inside the caller's own partition, and `fixed` and
    `prefixed` pin the values that name the partition.

    Args:
        listing: Everything that identifies the listing (its name, the owner's id, filters, order).
        fields: The values a cursor carries and the type each must have.
        fixed: Fields whose value must be exactly this (e.g. a DynamoDB partition key).
        prefixed: Fields whose value must start with this (e.g. a sort key's entity prefix).
    """

    def __init__(
        self,
        listing: tuple[object, ...],
        fields: Mapping[str, type[int] | type[str]],
        *,
        fixed: Mapping[str, str] | None = None,
        prefixed: Mapping[str, str] | None = None,
    ) -> None:
        self._fields = dict(fields)
        self._fixed = dict(fixed or {})
        self._prefixed = dict(prefixed or {})
        assert _LISTING_KEY not in self._fields, "reserved cursor field"
        assert set(self._fixed) | set(self._prefixed) <= set(self._fields), "checked fields are cursor fields"
        self._listing = hashlib.sha256(repr(listing).encode()).hexdigest()[:16]

    def encode(self, position: Mapping[str, int | str]) -> str:
        """A cursor for the page that starts after `position`."""
        assert set(position) == set(self._fields), "cursor fields must match the listing"
        return encode_cursor({_LISTING_KEY: self._listing, **position})

    def decode(self, cursor: str) -> dict[str, Any]:
        """The position inside `cursor`.

        Raises:
            InvalidInputError: when `cursor` was not issued by this listing.
        """
        position = decode_cursor(cursor)
        if set(position) != {_LISTING_KEY, *self._fields} or position[_LISTING_KEY] != self._listing:
            raise InvalidInputError("The pagination cursor does not belong to this listing.", field="cursor")
        for name, kind in self._fields.items():
            value = position[name]
            if type(value) is not kind or (
                isinstance(value, str) and not 0 < len(value) <= _MAX_CURSOR_VALUE
            ):
                raise InvalidInputError("The pagination cursor is not valid.", field="cursor")
        if any(position[name] != value for name, value in self._fixed.items()) or any(
            not position[name].startswith(prefix) for name, prefix in self._prefixed.items()
        ):
            raise InvalidInputError("The pagination cursor does not belong to this listing.", field="cursor")
        return {name: position[name] for name in self._fields}


def validate_limit(limit: int, *, maximum: int = MAX_PAGE_SIZE, field: str = "limit") -> int:
    """Return `limit` if it is between 1 and `maximum`, else raise `InvalidInputError`."""
    if not 1 <= limit <= maximum:
        raise InvalidInputError(f"{field} must be between 1 and {maximum}.", field=field)
    return limit
