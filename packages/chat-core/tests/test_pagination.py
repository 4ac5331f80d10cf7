import base64
import gc
import weakref

import pytest

from chat_core._base import CamelModel
from chat_core.errors import InvalidInputError
from chat_core.pagination import CursorCodec, Page, decode_cursor, encode_cursor, validate_limit


class TestCursor:
    def test_round_trip(self) -> None:
        position = {"pk": "USER#u1", "sk": "S#2026", "n": 3}
        cursor = encode_cursor(position)
        assert "=" not in cursor
        assert decode_cursor(cursor) == position

    @pytest.mark.parametrize(
        "cursor", ["not base64 !!", "e30", base64.urlsafe_b64encode(b"[1,2]").decode(), "x" * 5000, "%%%"]
    )
    def test_tampered_cursors_are_validation_errors(self, cursor: str) -> None:
        if cursor == "e30":  # "{}" is a well-formed, empty position: accepted here, checked by backends
            assert decode_cursor(cursor) == {}
            return
        with pytest.raises(InvalidInputError) as caught:
            decode_cursor(cursor, field="next_token")
        assert caught.value.field == "next_token"


class TestLimit:
    @pytest.mark.parametrize("limit", [1, 50, 1000])
    def test_in_range(self, limit: int) -> None:
        assert validate_limit(limit) == limit

    @pytest.mark.parametrize("limit", [0, -1, 1001])
    def test_out_of_range(self, limit: int) -> None:
        with pytest.raises(InvalidInputError):
            validate_limit(limit)

    def test_custom_maximum(self) -> None:
        with pytest.raises(InvalidInputError):
            validate_limit(101, maximum=100)


def test_page_serialises_camel_case() -> None:
    page = Page[int](items=[1, 2], next_cursor="abc")
    assert page.to_json_dict() == {"items": [1, 2], "nextCursor": "abc"}


class TestCursorCodec:
    """One codec for every backend: a cursor names its listing, and its values keep their shape."""

    def test_round_trip(self) -> None:
        codec = CursorCodec(("listing", "user-1"), {"t": str, "i": int})
        assert codec.decode(codec.encode({"t": "2025", "i": 3})) == {"t": "2025", "i": 3}

    @pytest.mark.parametrize(
        "position",
        [
            {"t": 5, "i": 3},
            {"t": "2025", "i": "3"},
            {"t": "2025", "i": True},
            {"t": "", "i": 3},
            {"t": "x" * 1025, "i": 3},
            {"t": "2025"},
            {"t": "x", "i": 1, "z": 0},
        ],
    )
    def test_wrong_values_under_the_right_fingerprint_are_invalid(self, position: dict[str, object]) -> None:
        codec = CursorCodec(("listing", "user-1"), {"t": str, "i": int})
        fingerprint = decode_cursor(codec.encode({"t": "a", "i": 0}))["l"]
        with pytest.raises(InvalidInputError):
            codec.decode(encode_cursor({"l": fingerprint, **position}))

    def test_other_listing_parameters_change_the_fingerprint(self) -> None:
        mine = CursorCodec(("files", "user-1", "date", "desc"), {"i": int})
        other = CursorCodec(("files", "user-1", "size", "desc"), {"i": int})
        with pytest.raises(InvalidInputError):
            other.decode(mine.encode({"i": 1}))

    def test_fixed_and_prefixed_values_pin_the_partition(self) -> None:
        issued = CursorCodec(("sessions",), {"PK": str, "SK": str}).encode({"PK": "USER#bob", "SK": "S#1"})
        alice = CursorCodec(
            ("sessions",), {"PK": str, "SK": str}, fixed={"PK": "USER#alice"}, prefixed={"SK": "S#"}
        )
        with pytest.raises(InvalidInputError, match="does not belong"):
            alice.decode(issued)
        own = CursorCodec(("sessions",), {"PK": str, "SK": str}).encode({"PK": "USER#alice", "SK": "M#1"})
        with pytest.raises(InvalidInputError, match="does not belong"):
            alice.decode(own)
        good = CursorCodec(("sessions",), {"PK": str, "SK": str}).encode({"PK": "USER#alice", "SK": "S#9"})
        assert alice.decode(good) == {"PK": "USER#alice", "SK": "S#9"}


class TestPageTypes:
    def test_a_parametrised_page_outlives_garbage_collection(self) -> None:
        class Item(CamelModel):
            name: str

        page_type = weakref.ref(Page[Item])
        gc.collect()
        assert page_type() is Page[Item]
