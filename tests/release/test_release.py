"""`make release` decisions and edits (scripts/release.py) on a small git repository; the whole flow,
against a real index, is test_scenario.py."""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path

import pytest
from check_versions import members
from packaging.version import Version
from release import (
    Plan,
    ReleaseError,
    add_changelog_line,
    date_changelog,
    plan,
    raise_caps,
    release,
    unreleased_requirements,
)
from release_harness import ROOT, clean_env
from test_check_versions import add_heading, git, set_version, write_member
from test_check_versions import release as record_release

DAY = datetime.date(2026, 12, 1)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[tool.uv.workspace]\nmembers = ["packages/*", "services/*"]\n')
    write_member(tmp_path, "chat-core", "1.0.0", [], ["1.0.0"])
    write_member(tmp_path, "chat-storage", "1.0.0", ["chat-core>=1.0.0,<2", "aiosqlite>=0.21"], ["1.0.0"])
    service = tmp_path / "services" / "app-api"
    service.mkdir(parents=True)
    (service / "pyproject.toml").write_text(
        '[project]\nname = "app-api"\nversion = "1.0.0"\n'
        'dependencies = [\n    "chat-core[auth]>=1.0.0,<2",\n    "chat-storage>=1.0.0,<2",\n]\n'
    )
    (service / "CHANGELOG.md").write_text("# Changelog\n\n## 1.0.0\n\n- First release.\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "First release")
    for name in ("chat-core", "chat-storage", "app-api"):
        record_release(tmp_path, name, "1.0.0")
    return tmp_path


def change(repo: Path, name: str = "chat-core") -> None:
    (repo / "packages" / name / "src" / name.replace("-", "_") / "new.py").write_text("x = 1\n")


def test_nothing_to_release_when_unchanged(repo: Path) -> None:
    assert plan(repo, "chat-core", "minor").action == "nothing"


def test_a_changed_member_is_bumped_by_the_asked_step(repo: Path) -> None:
    change(repo)
    assert plan(repo, "chat-core", "minor").target == Version("1.1.0")
    assert plan(repo, "chat-core", "patch").target == Version("1.0.1")
    assert plan(repo, "chat-core", "major").target == Version("2.0.0")
    with pytest.raises(ReleaseError, match="say BUMP"):
        plan(repo, "chat-core", None)


def test_a_pending_release_is_released_refused_smaller_or_re_bumped(repo: Path) -> None:
    change(repo)
    set_version(repo / "packages" / "chat-core", "1.0.0", "1.1.0")
    assert plan(repo, "chat-core", "minor") == Plan(
        "chat-core", plan(repo, "chat-core", None).last, Version("1.1.0"), Version("1.1.0"), "pending"
    )
    assert plan(repo, "chat-core", None).action == "pending"
    with pytest.raises(
        ReleaseError, match=r"pending minor release over 1\.0\.0; BUMP=patch would be smaller"
    ):
        plan(repo, "chat-core", "patch")
    rebump = plan(repo, "chat-core", "major")
    assert (rebump.action, rebump.target) == ("rebump", Version("2.0.0"))


def test_a_member_never_released_releases_its_current_version(repo: Path) -> None:
    write_member(repo, "chat-http", "1.0.0", ["chat-core>=1.0.0,<2"], ["1.0.0"])
    assert plan(repo, "chat-http", None).action == "first"
    with pytest.raises(ReleaseError, match="never released"):
        plan(repo, "chat-http", "minor")


def test_a_version_below_the_release_is_refused(repo: Path) -> None:
    set_version(repo / "packages" / "chat-core", "1.0.0", "0.9.0")
    with pytest.raises(ReleaseError, match="below its last release"):
        plan(repo, "chat-core", "patch")


def test_unreleased_notes_move_under_the_version_and_date(repo: Path) -> None:
    changelog = repo / "packages" / "chat-core" / "CHANGELOG.md"
    changelog.write_text("# Changelog\n\n## Unreleased\n\n- New `utc_today`.\n\n## 1.0.0\n\n- First.\n")
    step = Plan("chat-core", None, Version("1.0.0"), Version("1.1.0"), "bump")
    date_changelog(changelog, step, DAY)
    assert changelog.read_text() == (
        "# Changelog\n\n## 1.1.0 - 2026-12-01\n\n- New `utc_today`.\n\n## 1.0.0\n\n- First.\n"
    )
    date_changelog(changelog, step, DAY)  # a rerun changes nothing
    assert "## 1.1.0 - 2026-12-01\n\n- New `utc_today`.\n\n## 1.0.0" in changelog.read_text()


def test_a_pending_section_is_dated_renamed_and_merged_with_unreleased(repo: Path) -> None:
    changelog = repo / "packages" / "chat-core" / "CHANGELOG.md"
    changelog.write_text(
        "# Changelog\n\n## Unreleased\n\n- Later.\n\n## 1.1.0\n\n- Pending.\n\n## 1.0.0\n\n- First.\n"
    )
    date_changelog(changelog, Plan("chat-core", None, Version("1.1.0"), Version("2.0.0"), "rebump"), DAY)
    assert (
        changelog.read_text()
        == "# Changelog\n\n## 2.0.0 - 2026-12-01\n\n- Pending.\n- Later.\n\n## 1.0.0\n\n- First.\n"
    )


def test_a_release_without_listed_changes_is_refused(repo: Path) -> None:
    changelog = repo / "packages" / "chat-core" / "CHANGELOG.md"
    with pytest.raises(ReleaseError, match=r"no '## Unreleased' or '## 1\.1\.0' section"):
        date_changelog(changelog, Plan("chat-core", None, Version("1.0.0"), Version("1.1.0"), "bump"), DAY)


def test_a_major_release_raises_the_caps_that_exclude_it_and_only_those(repo: Path) -> None:
    assert raise_caps(repo, {"chat-core": Version("1.1.0")}) == {}
    changed = raise_caps(repo, {"chat-core": Version("2.0.0")})
    assert changed == {
        "app-api": ["Accepts chat-core 2 (`chat-core[auth]>=1.0.0,<3`)."],
        "chat-storage": ["Accepts chat-core 2 (`chat-core>=1.0.0,<3`)."],
    }
    app = (repo / "services" / "app-api" / "pyproject.toml").read_text()
    assert '"chat-core[auth]>=1.0.0,<3",\n    "chat-storage>=1.0.0,<2",' in app
    assert members(repo)["chat-storage"].requirements[0].specifier.contains("2.0.0")


def test_a_changelog_line_goes_into_a_new_or_the_pending_section(repo: Path) -> None:
    storage = members(repo)["chat-storage"]
    add_changelog_line(storage, Version("1.0.1"), "Accepts chat-core 2.")
    assert (
        (storage.path / "CHANGELOG.md")
        .read_text()
        .startswith("# Changelog\n\n## 1.0.1\n\n- Accepts chat-core 2.\n\n## 1.0.0")
    )
    add_heading(storage.path, "1.1.0")
    add_changelog_line(storage, Version("1.1.0"), "Accepts chat-core 3.")
    assert "## 1.1.0\n\n- Accepts chat-core 3.\n- X.\n" in (storage.path / "CHANGELOG.md").read_text()


def test_a_dirty_tree_is_refused_before_anything_changes(repo: Path) -> None:
    change(repo)
    before = git(repo, "rev-parse", "HEAD")
    with pytest.raises(ReleaseError, match="the working tree is not clean"):
        release(repo, "chat-core", "minor", publish_to=None, date=DAY)
    assert git(repo, "rev-parse", "HEAD") == before


def test_without_an_index_url_a_release_is_refused_unless_record_only() -> None:
    result = subprocess.run(
        [sys.executable, ROOT / "scripts" / "release.py", "--package", "chat-core", "--bump", "minor"],
        env=clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "set CHAT_INDEX_URL" in result.stderr
    assert "PUBLISH=no to record only" in result.stderr


def test_a_member_is_not_released_before_what_it_needs(repo: Path) -> None:
    write_member(repo, "chat-http", "1.0.0", ["chat-core>=1.0.0,<2"], ["1.0.0"])
    app = repo / "services" / "app-api" / "pyproject.toml"
    app.write_text(
        app.read_text().replace('    "chat-storage', '    "chat-http>=1.0.0,<2",\n    "chat-storage')
    )
    (problem,) = unreleased_requirements(repo, {"app-api": Version("1.0.1")})
    assert problem.startswith(
        "app-api requires chat-http<2,>=1.0.0, and no release of chat-http in that range"
    )
    assert "make release PACKAGE=chat-http" in problem
    assert unreleased_requirements(repo, {"app-api": Version("1.0.1"), "chat-http": Version("1.0.0")}) == []
    assert unreleased_requirements(repo, {"chat-storage": Version("2.0.0")}) == []  # chat-core 1.0.0 recorded
