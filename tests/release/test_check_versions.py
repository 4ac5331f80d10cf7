"""Release-tag rule of `make check-versions`, on a small git repository built here."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from check_versions import floors, internal_closure, members, release_problems, release_tag


def git(repo: Path, *args: str) -> None:
    identity = [
        "-c",
        "user.name=Release Test",
        "-c",
        "user.email=release@example.com",
        "-c",
        "tag.gpgSign=false",
    ]
    subprocess.run(["git", *identity, *args], cwd=repo, check=True, capture_output=True)


def write_member(repo: Path, name: str, version: str, dependencies: list[str], changelog: list[str]) -> Path:
    folder = repo / "packages" / name
    (folder / "src" / name.replace("-", "_")).mkdir(parents=True, exist_ok=True)
    deps = ", ".join(f'"{d}"' for d in dependencies)
    (folder / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "{version}"\ndependencies = [{deps}]\n'
    )
    headings = "".join(f"## {v}\n\n- Change.\n\n" for v in changelog)
    (folder / "CHANGELOG.md").write_text(f"# Changelog\n\n{headings}")
    return folder


def set_version(folder: Path, old: str, new: str) -> None:
    pyproject = folder / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(f'version = "{old}"', f'version = "{new}"'))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[tool.uv.workspace]\nmembers = ["packages/*"]\n')
    core = write_member(tmp_path, "chat-core", "1.0.0", [], ["1.0.0"])
    (core / "src" / "chat_core" / "__init__.py").write_text('"""Core."""\n')
    write_member(tmp_path, "chat-storage", "1.0.0", ["chat-core>=1.0.0,<2"], ["1.0.0"])
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "First release")
    git(tmp_path, "tag", release_tag("chat-core", "1.0.0"))
    return tmp_path


def test_a_released_member_without_changes_is_fine(repo: Path) -> None:
    assert release_problems(repo) == []


def test_a_member_never_released_has_nothing_to_compare(repo: Path) -> None:
    (repo / "packages" / "chat-storage" / "new.py").write_text("x = 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "Change the unreleased member")
    assert release_problems(repo) == []


def test_a_change_since_the_tag_without_a_bump_is_reported(repo: Path) -> None:
    init = repo / "packages" / "chat-core" / "src" / "chat_core" / "__init__.py"
    init.write_text('"""Core, changed."""\n')
    (problem,) = release_problems(repo)  # uncommitted edits count
    assert problem.startswith("chat-core: 1 file(s) changed since chat-core-v1.0.0 without a version bump")
    assert "packages/chat-core/src/chat_core/__init__.py" in problem
    git(repo, "commit", "-q", "-am", "Change chat-core")
    assert release_problems(repo) == [problem]  # and so do committed ones
    (repo / "packages" / "chat-core" / "untracked.py").write_text("y = 2\n")
    assert "2 file(s) changed" in release_problems(repo)[0]


def test_a_bump_needs_a_changelog_entry(repo: Path) -> None:
    core = repo / "packages" / "chat-core"
    (core / "src" / "chat_core" / "__init__.py").write_text('"""Core, changed."""\n')
    set_version(core, "1.0.0", "1.1.0")
    assert release_problems(repo) == ["chat-core: CHANGELOG.md has no '## 1.1.0' heading"]
    changelog = core / "CHANGELOG.md"
    changelog.write_text(changelog.read_text().replace("## 1.0.0", "## 1.1.0\n\n- Feature.\n\n## 1.0.0"))
    assert release_problems(repo) == []


def test_the_last_release_is_the_highest_tag(repo: Path) -> None:
    core = repo / "packages" / "chat-core"
    set_version(core, "1.0.0", "1.10.0")
    changelog = core / "CHANGELOG.md"
    changelog.write_text(changelog.read_text().replace("## 1.0.0", "## 1.10.0\n\n- Feature.\n\n## 1.0.0"))
    git(repo, "commit", "-q", "-am", "Release 1.10.0")
    git(repo, "tag", release_tag("chat-core", "1.10.0"))
    git(repo, "tag", "chat-core-vnext")  # not a version: ignored
    assert release_problems(repo) == []
    set_version(core, "1.10.0", "1.9.0")
    assert "version 1.9.0 is lower than the last release tag chat-core-v1.10.0" in release_problems(repo)[-1]


def test_floors_and_closure_come_from_the_declared_ranges(repo: Path) -> None:
    write_member(repo, "chat-rag", "2.0.0", ["chat-core~=1.2", "chat-storage>=1.0.0,<2"], ["2.0.0"])
    projects = members(repo)
    assert floors(projects["chat-storage"], repo) == {"chat-core": "1.0.0"}
    assert floors(projects["chat-rag"], repo) == {"chat-core": "1.2", "chat-storage": "1.0.0"}
    assert internal_closure("chat-rag", repo) == {"chat-rag", "chat-storage", "chat-core"}
    assert internal_closure("chat-core", repo) == {"chat-core"}
