"""The README's configuration reference names every setting only this service reads (the shared ones
are documented once, in chat-http's README)."""

from __future__ import annotations

from pathlib import Path

from chat_http.settings import EdgeSettings
from inference_api.config import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_own_setting_is_documented() -> None:
    text = README.read_text()
    own = Settings.model_fields.keys() - EdgeSettings.model_fields.keys()
    assert own
    assert sorted(f"CHAT_{name.upper()}" for name in own if f"`CHAT_{name.upper()}`" not in text) == []
