import base64

import pytest

from chat_core.errors import InvalidInputError
from chat_core.pagination import Page, decode_cursor, encode_cursor, validate_limit


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
