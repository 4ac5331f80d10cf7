"""The README's configuration reference names every setting the service reads."""

from __future__ import annotations

from pathlib import Path

from inference_api.config import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_documented() -> None:
    text = README.read_text()
    missing = [
        f"CHAT_{name.upper()}" for name in Settings.model_fields if f"`CHAT_{name.upper()}`" not in text
    ]
    assert missing == []
