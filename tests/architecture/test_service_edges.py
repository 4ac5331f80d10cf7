"""The two services keep their HTTP edges in step.

Services may not import each other and libraries may not speak HTTP (DESIGN section 1), so each
service owns its error mapping, request middleware and settings. These tests make the copies
behave as one: the same status for every error code, the same middleware, the same meaning for every
`CHAT_*` variable both read.
"""

from pathlib import Path

import pytest
from rules import ROOT

import app_api.errors
import inference_api.errors
from app_api.config import Settings as AppSettings
from inference_api.config import Settings as InferenceSettings

MIRRORED = ["middleware.py", "security.py"]


def test_every_error_code_maps_to_the_same_status() -> None:
    assert app_api.errors.STATUS_BY_CODE == inference_api.errors.STATUS_BY_CODE


@pytest.mark.parametrize("name", MIRRORED)
def test_mirrored_modules_are_identical_but_for_the_package_name(name: str) -> None:
    def normalised(service: str, package: str) -> list[str]:
        text = (ROOT / "services" / service / "src" / package / name).read_text()
        lines = text.replace(package, "SERVICE").replace(service, "SERVICE").splitlines()
        return sorted(line for line in lines if line.startswith(("from ", "import "))) + [
            line for line in lines if not line.startswith(("from ", "import "))
        ]

    assert normalised("app-api", "app_api") == normalised("inference-api", "inference_api")


def test_shared_settings_have_the_same_type_and_default() -> None:
    app_fields, inference_fields = AppSettings.model_fields, InferenceSettings.model_fields
    shared = set(app_fields) & set(inference_fields)
    assert {
        "env",
        "data_dir",
        "storage",
        "auth_mode",
        "dev_jwt_secret",
        "oidc_issuer",
        "admin_roles",
    } <= shared
    for name in sorted(shared):
        app_field, inference_field = app_fields[name], inference_fields[name]
        assert repr(app_field.annotation) == repr(inference_field.annotation), name
        assert app_field.get_default(call_default_factory=True) == inference_field.get_default(
            call_default_factory=True
        ), name


def test_shared_settings_read_the_same_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHAT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CHAT_ADMIN_ROLES", "ops,admin")
    app, inference = AppSettings(_env_file=None), InferenceSettings(_env_file=None)  # type: ignore[call-arg]
    for name in set(AppSettings.model_fields) & set(InferenceSettings.model_fields):
        assert getattr(app, name) == getattr(inference, name), name
