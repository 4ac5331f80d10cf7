"""Cursors that keep the listing's fingerprint but carry values of the wrong shape."""

from __future__ import annotations

import pytest

from chat_core.errors import InvalidInputError
from chat_core.pagination import decode_cursor, encode_cursor
from chat_storage.local._pages import CursorCodec


class TestCursorCodec:
    def test_round_trip(self) -> None:
        codec = CursorCodec({"t": str, "i": int}, "listing", "user-1")
        assert codec.decode(codec.encode({"t": "2025", "i": 3})) == {"t": "2025", "i": 3}

    @pytest.mark.parametrize(
        "position",
        [
            {"t": 5, "i": 3},
            {"t": "2025", "i": "3"},
            {"t": "2025", "i": True},
            {"t": "2025"},
            {"t": "x", "i": 1, "z": 0},
        ],
    )
    def test_wrong_values_under_the_right_fingerprint_are_invalid(self, position: dict[str, object]) -> None:
        codec = CursorCodec({"t": str, "i": int}, "listing", "user-1")
        fingerprint = decode_cursor(codec.encode({"t": "a", "i": 0}))["l"]
        with pytest.raises(InvalidInputError):
            codec.decode(encode_cursor({"l": fingerprint, **position}))

    def test_other_listing_parameters_change_the_fingerprint(self) -> None:
        mine = CursorCodec({"i": int}, "files", "user-1", "date", "desc")
        other = CursorCodec({"i": int}, "files", "user-1", "size", "desc")
        with pytest.raises(InvalidInputError):
            other.decode(mine.encode({"i": 1}))
