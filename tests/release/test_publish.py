"""`make publish` (scripts/publish.py) against the session's pypiserver: skip, refuse, authenticate."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from publish import default_publish_url, with_credentials
from release_harness import ROOT, Index, make_wheel, sha256


def publish(dist: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(ROOT / "scripts" / "publish.py"), "--dist", str(dist)]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False)


def index_state(index: Index) -> dict[str, str]:
    return {path.name: sha256(path) for path in sorted(index.packages.iterdir())}


def test_publishing_the_same_wheels_again_skips_every_one(index: Index, dist: Path) -> None:
    before = index_state(index)
    result = publish(dist, index.env())
    assert result.returncode == 0, result.stderr
    wheels = sorted(path.name for path in dist.glob("*.whl"))
    message = " ".join(result.stderr.split())  # uv wraps its messages at the terminal width
    assert [name for name in wheels if f"File {name} already exists, skipping" in message] == wheels
    assert index_state(index) == before


def test_changed_content_under_a_published_version_is_refused(
    index: Index, dist: Path, tmp_path: Path
) -> None:
    (original,) = dist.glob("chat_core-*.whl")
    changed = tmp_path / "changed" / original.name
    changed.parent.mkdir()
    shutil.copy(original, changed)
    with zipfile.ZipFile(changed, "a") as archive:
        archive.writestr("chat_core/_unbumped_change.py", "CHANGED = True\n")
    before = index_state(index)
    result = publish(changed.parent, index.env())
    assert result.returncode != 0
    message = " ".join(result.stderr.split())  # uv wraps its messages at the terminal width
    assert f"Local file and index file do not match for `{original.name}`" in message
    assert index_state(index) == before


def test_a_wrong_password_uploads_nothing(index: Index, tmp_path: Path) -> None:
    make_wheel(tmp_path, "chat-release-probe", "0.0.1", {"chat_release_probe/__init__.py": ""})
    before = index_state(index)
    result = publish(tmp_path, index.env(CHAT_INDEX_PASSWORD="not-the-password"))
    assert result.returncode != 0
    assert "403 Forbidden" in result.stderr
    assert "not-the-password" not in result.stdout + result.stderr
    assert index_state(index) == before


def test_the_index_url_is_required(tmp_path: Path, index: Index) -> None:
    env = index.env()
    del env["CHAT_INDEX_URL"]
    result = publish(tmp_path, env)
    assert result.returncode == 2
    assert "CHAT_INDEX_URL" in result.stderr


def test_upload_and_check_urls() -> None:
    assert default_publish_url("http://127.0.0.1:8765/simple/") == "http://127.0.0.1:8765/"
    assert default_publish_url("https://pypi.example/simple") == "https://pypi.example/"
    with pytest.raises(ValueError, match="CHAT_PUBLISH_URL"):
        default_publish_url("https://devpi.example/ci/internal/+simple/")
    assert with_credentials("http://h:1/simple/", "c i", "p@ss:w") == "http://c%20i:p%40ss%3Aw@h:1/simple/"
    assert with_credentials("http://old@h/simple/", "ci", "pw") == "http://ci:pw@h/simple/"
    assert with_credentials("http://h/simple/", None, None) == "http://h/simple/"
