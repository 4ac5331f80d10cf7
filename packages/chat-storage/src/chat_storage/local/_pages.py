"""Keyset-pagination cursors of the local backend, tied to the listing that issued them.

A cursor holds the sort key of the last item shown and a short fingerprint of the listing (which
table, whose partition, which filter and order). A cursor from another listing, another user or one
that was edited into a different shape is refused with `InvalidInputError`; one whose values were
edited can at worst move the position inside the caller's own partition.
"""

from __future__ import annotations

import hashlib
from typing import Any

from chat_core.errors import InvalidInputError
from chat_core.pagination import decode_cursor, encode_cursor

__all__ = ["CursorCodec"]

_LISTING_KEY = "l"


class CursorCodec:
    """Encodes and checks the cursors of one listing.

    Args:
        fields: The sort-key fields a cursor carries and the type each must have.
        listing: Values identifying the listing (e.g. its name and the owner's id).
    """

    def __init__(self, fields: dict[str, type[int] | type[str]], *listing: object) -> None:
        self._fields = fields
        self._listing = hashlib.sha256(repr(listing).encode()).hexdigest()[:16]

    def encode(self, position: dict[str, int | str]) -> str:
        """A cursor for the page that starts after `position`."""
        assert set(position) == set(self._fields), "cursor fields must match the listing"
        return encode_cursor({_LISTING_KEY: self._listing, **position})

    def decode(self, cursor: str) -> dict[str, Any]:
        """The position inside `cursor`.

        Raises:
            InvalidInputError: when `cursor` was not issued by this listing.
        """
        position = decode_cursor(cursor)
        expected = {_LISTING_KEY, *self._fields}
        if set(position) != expected or position[_LISTING_KEY] != self._listing:
            raise InvalidInputError("The pagination cursor does not belong to this listing.", field="cursor")
        for name, kind in self._fields.items():
            value = position[name]
            if type(value) is not kind:
                raise InvalidInputError("The pagination cursor is not valid.", field="cursor")
        return {name: position[name] for name in self._fields}
