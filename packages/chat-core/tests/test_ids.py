import re

import pytest

from chat_core import ids
from chat_core.errors import InvalidInputError


class TestValidateId:
    @pytest.mark.parametrize(
        "value",
        ["s-1", "abc_DEF.9", "3f2b1c9e-0d4e-4a3b-9c1e-2f3a4b5c6d7e", "a" * 128, "u@x:1+2", "auth0|123"],
    )
    def test_accepts_safe_ids(self, value: str) -> None:
        assert ids.validate_id(value) == value

    @pytest.mark.parametrize(
        "value",
        [
            "",
            "../etc/passwd",
            "a/b",
            "a\\b",
            "it's",
            'say"hi',
            "a b",
            "a" * 129,
            "x" * 10_000,
            "-leading",
            "a..b",
            "é",
        ],
    )
    def test_rejects_unsafe_ids_naming_the_field(self, value: str) -> None:
        with pytest.raises(InvalidInputError) as caught:
            ids.validate_id(value, field="sessionId")
        assert caught.value.field == "sessionId"
        assert len(caught.value.message) < 200

    def test_rejects_non_strings(self) -> None:
        with pytest.raises(InvalidInputError):
            ids.validate_id(42)  # type: ignore[arg-type]


class TestValidateEmail:
    def test_lowercases_and_strips(self) -> None:
        assert ids.validate_email("  Bob@Example.COM ") == "bob@example.com"

    @pytest.mark.parametrize(
        "value", ["", "bob", "a@b@c", "a b@c.d", "x/y@z.com", "a'@b.c", "a\x1cb@c.d", "a@b\x7f", "a@\ufeffb"]
    )
    def test_rejects_malformed(self, value: str) -> None:
        with pytest.raises(InvalidInputError):
            ids.validate_email(value)

    @pytest.mark.parametrize(
        "value",
        [
            "bob@example.com",
            " \tBob@Example.COM\n",
            "",
            "a b@c.d",
            "a\x1cb@c.d",
            "é@ü.de",
            "a@b@c",
        ],
    )
    def test_the_schema_pattern_accepts_exactly_what_validation_does(self, value: str) -> None:
        try:
            ids.validate_email(value)
        except InvalidInputError:
            accepted = False
        else:
            accepted = True
        assert bool(re.fullmatch(ids.EMAIL_PATTERN, value)) is accepted

    def test_the_schema_pattern_trims_only_ascii_blanks(self) -> None:
        """Python also strips separators like U+001C; a schema never offers them (stricter is safe)."""
        assert ids.validate_email("\x1ca@b.c") == "a@b.c"
        assert not re.fullmatch(ids.EMAIL_PATTERN, "\x1ca@b.c")


class TestNewIds:
    def test_formats(self) -> None:
        assert re.fullmatch(r"ast-[0-9a-f]{12}", ids.new_assistant_id())
        assert re.fullmatch(r"DOC-[0-9a-f]{12}", ids.new_document_id())
        assert re.fullmatch(r"[0-9a-f]{11,}_[0-9a-f]{16}", ids.new_upload_id())
        assert re.fullmatch(r"[0-9a-f-]{36}", ids.new_managed_model_id())
        assert re.fullmatch(r"[0-9a-f-]{36}", ids.new_session_id())

    def test_new_ids_are_valid_ids_and_unique(self) -> None:
        made = [ids.new_upload_id() for _ in range(200)] + [ids.new_assistant_id() for _ in range(200)]
        assert len(set(made)) == len(made)
        for value in made:
            ids.validate_id(value)

    def test_upload_ids_sort_by_creation_time(self) -> None:
        first = ids.new_upload_id()
        later = ids.new_upload_id()
        assert first.split("_")[0] <= later.split("_")[0]

    def test_message_id(self) -> None:
        assert ids.message_id(ids.SessionId("s-1"), 3) == "msg-s-1-3"
