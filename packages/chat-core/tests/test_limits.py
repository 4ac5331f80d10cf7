"""Display names lose control and bidirectional formatting characters; bounds hold on input shapes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chat_core.assistants import AssistantCreate
from chat_core.errors import InvalidInputError
from chat_core.identity import User
from chat_core.limits import PREFERENCES_MAX_BYTES, PREFERENCES_MAX_KEYS, clean_display_name
from chat_core.managed_models import ManagedModelUpdate
from chat_core.sessions import SessionPreferences, SessionUpdate, fallback_title, merge_preferences

RLO = "\u202e"


class TestDisplayNames:
    @pytest.mark.parametrize(
        ("raw", "shown"),
        [
            ("Trip\x00plans", "Tripplans"),
            (f"invoice{RLO}fdp.exe", "invoicefdp.exe"),
            ("\u2066isolated\u2069 \u200fmark", "isolated mark"),
            ("two\nlines\tand\r\ntabs", "two lines and tabs"),
            ("  spaced   out  ", "spaced out"),
            ("bell\x07 and \x9bcsi", "bell and csi"),
            ("emoji 👩‍💻 and ünïcödé", "emoji 👩‍💻 and ünïcödé"),
        ],
    )
    def test_controls_and_bidi_formatting_are_left_out(self, raw: str, shown: str) -> None:
        assert clean_display_name(raw) == shown

    def test_a_name_of_nothing_visible_is_refused_naming_the_field(self) -> None:
        with pytest.raises(ValidationError) as raised:
            AssistantCreate(name=f"\x00{RLO}\n")
        assert raised.value.errors()[0]["loc"] == ("name",)

    def test_every_input_shape_cleans_its_names(self) -> None:
        update = SessionUpdate(title=f"a{RLO}b\x00c", tags=["x\ny", f"{RLO}z"])
        assert (update.title, update.tags) == ("abc", ["x y", "z"])
        assert AssistantCreate(name="n\x00ame", tags=["t\u2066"]).model_dump(include={"name", "tags"}) == {
            "name": "name",
            "tags": ["t"],
        }
        assert ManagedModelUpdate(model_name=f"Model{RLO}").model_name == "Model"

    def test_a_persons_name_from_a_token_is_cleaned_and_cut_never_refused(self) -> None:
        assert User(user_id="u", email="u@example.com", name=f"Eve{RLO}\x00").name == "Eve"
        assert User(user_id="u", email="u@example.com", name="\x00").name == ""
        assert len(User(user_id="u", email="u@example.com", name="n" * 5000).name) == 200

    def test_a_fallback_title_is_cleaned_too(self) -> None:
        assert fallback_title(f"Hello{RLO} \x00world") == "Hello world"
        assert fallback_title("\x00\x01") == "New Conversation"


class TestBounds:
    def test_one_tag_is_at_most_64_characters(self) -> None:
        with pytest.raises(ValidationError) as raised:
            SessionUpdate(tags=["x" * 500_000])
        assert raised.value.errors()[0]["loc"] == ("tags", 0)

    def test_preferences_have_a_key_and_a_size_bound(self) -> None:
        with pytest.raises(ValidationError):
            SessionPreferences.model_validate({f"k{index}": 1 for index in range(PREFERENCES_MAX_KEYS + 1)})
        with pytest.raises(ValidationError):
            SessionPreferences.model_validate({"big": "x" * PREFERENCES_MAX_BYTES})
        SessionPreferences.model_validate({"customPromptText": "\U0001f600" * 20_000})

    def test_declared_preferences_alone_are_held_to_the_size_bound(self) -> None:
        # 200 tools of 256 control characters: each written as a 6-byte escape, 300 KiB of JSON
        with pytest.raises(ValidationError, match="bytes"):
            SessionPreferences.model_validate({"enabledTools": ["\x00" * 256] * 200})
        SessionPreferences.model_validate({"enabledTools": ["\x00" * 256] * 120})

    def test_merged_preferences_are_bounded_whatever_each_update_holds(self) -> None:
        stored: dict[str, object] = {}
        for batch in range(PREFERENCES_MAX_KEYS // 16):
            stored = merge_preferences(stored, {f"k{batch}-{index}": index for index in range(16)})
        with pytest.raises(InvalidInputError) as raised:
            merge_preferences(stored, {"oneMore": 1})
        assert raised.value.field == "preferences"
