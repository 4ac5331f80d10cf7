"""Release rule of `make check-versions` against the manifest (releases.toml), on a small git repository."""

from __future__ import annotations

import datetime
import subprocess
from pathlib import Path

import pytest
from check_versions import floors, internal_closure, members, release_problems
from packaging.version import Version
from releases import MANIFEST, Release, last_release, load, member_paths_at, pyproject_at, record


def git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=Release Test", "-c", "user.email=release@example.com"]
    done = subprocess.run(["git", *identity, *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


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


def add_heading(folder: Path, version: str) -> None:
    changelog = folder / "CHANGELOG.md"
    changelog.write_text(
        changelog.read_text().replace("# Changelog\n\n", f"# Changelog\n\n## {version}\n\n- X.\n\n")
    )


def release(repo: Path, name: str, version: str) -> None:
    """Record `name==version` as released at HEAD (hashes are not looked at by these rules)."""
    stem = name.replace("-", "_")
    entry = Release(name, Version(version), datetime.date(2026, 11, 22), git(repo, "rev-parse", "HEAD"),
                    f"{stem}-{version}-py3-none-any.whl", "0" * 64, "1" * 64)  # fmt: skip
    record(repo, [entry])
    git(repo, "add", MANIFEST)
    git(repo, "commit", "-q", "-m", f"releases.toml: {name} {version}")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[tool.uv.workspace]\nmembers = ["packages/*"]\n')
    core = write_member(tmp_path, "chat-core", "1.0.0", [], ["1.0.0"])
    (core / "src" / "chat_core" / "__init__.py").write_text('"""Core."""\n')
    write_member(tmp_path, "chat-storage", "1.0.0", ["chat-core>=1.0.0,<2"], ["1.0.0"])
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "First release")
    release(tmp_path, "chat-core", "1.0.0")
    return tmp_path


def test_a_released_member_without_changes_is_fine(repo: Path) -> None:
    assert release_problems(repo) == []


def test_a_member_never_released_has_nothing_to_compare(repo: Path) -> None:
    (repo / "packages" / "chat-storage" / "new.py").write_text("x = 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "Change the unreleased member")
    assert release_problems(repo) == []


def test_a_change_since_the_release_without_a_bump_is_reported(repo: Path) -> None:
    init = repo / "packages" / "chat-core" / "src" / "chat_core" / "__init__.py"
    init.write_text('"""Core, changed."""\n')
    (problem,) = release_problems(repo)  # uncommitted edits count
    assert problem.startswith("chat-core: 1 file(s) changed since release 1.0.0 (commit ")
    assert "uv version --package chat-core --bump" in problem
    assert "packages/chat-core/src/chat_core/__init__.py" in problem
    git(repo, "commit", "-q", "-am", "Change chat-core")
    assert release_problems(repo) == [problem]  # and so do committed ones
    (repo / "packages" / "chat-core" / "untracked.py").write_text("y = 2\n")
    assert "2 file(s) changed" in release_problems(repo)[0]


def test_the_manifest_itself_is_not_a_change_of_a_member(repo: Path) -> None:
    release(repo, "chat-storage", "1.0.0")  # a commit after chat-core's release, outside its folder
    assert release_problems(repo) == []


def test_a_pending_release_needs_a_changelog_heading(repo: Path) -> None:
    core = repo / "packages" / "chat-core"
    (core / "src" / "chat_core" / "__init__.py").write_text('"""Core, changed."""\n')
    set_version(core, "1.0.0", "1.1.0")
    assert release_problems(repo) == ["chat-core: CHANGELOG.md has no '## 1.1.0' heading"]
    add_heading(core, "1.1.0")
    assert release_problems(repo) == []  # a pending release: above the recorded one, with its section


def test_the_last_release_is_the_highest_recorded_version(repo: Path) -> None:
    core = repo / "packages" / "chat-core"
    set_version(core, "1.0.0", "1.10.0")
    add_heading(core, "1.10.0")
    git(repo, "commit", "-q", "-am", "Release 1.10.0")
    release(repo, "chat-core", "1.10.0")
    last = last_release(repo, "chat-core")
    assert last is not None
    assert last.version == Version("1.10.0")
    assert [r.version for r in load(repo)["chat-core"]] == [Version("1.0.0"), Version("1.10.0")]
    assert release_problems(repo) == []
    set_version(core, "1.10.0", "1.9.0")
    add_heading(core, "1.9.0")
    assert release_problems(repo) == ["chat-core: version 1.9.0 is lower than its last release 1.10.0"]


def test_a_recorded_version_is_never_recorded_twice(repo: Path) -> None:
    (entry,) = load(repo)["chat-core"]
    with pytest.raises(ValueError, match=r"chat-core 1\.0\.0 is already in releases\.toml"):
        record(repo, [entry])


def test_a_release_commit_missing_from_the_clone_is_reported(repo: Path) -> None:
    manifest = repo / MANIFEST
    commit = git(repo, "rev-parse", "HEAD~1")
    manifest.write_text(manifest.read_text().replace(commit, "f" * 40))
    (problem,) = release_problems(repo)
    assert "ffffffffffff of release 1.0.0 is not in this clone" in problem


def test_members_are_read_from_the_tree_of_a_commit(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    storage = repo / "packages" / "chat-storage"
    storage.rename(repo / "packages" / "storage")  # a member moved: its old path is still known
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Move chat-storage")
    assert member_paths_at(repo, first) == {
        "chat-core": "packages/chat-core",
        "chat-storage": "packages/chat-storage",
    }
    assert member_paths_at(repo, "HEAD")["chat-storage"] == "packages/storage"
    assert pyproject_at(repo, first, "chat-storage")["dependencies"] == ["chat-core>=1.0.0,<2"]


def test_floors_and_closure_come_from_the_declared_ranges(repo: Path) -> None:
    write_member(repo, "chat-rag", "2.0.0", ["chat-core~=1.2", "chat-storage>=1.0.0,<2"], ["2.0.0"])
    projects = members(repo)
    assert floors(projects["chat-storage"], repo) == {"chat-core": "1.0.0"}
    assert floors(projects["chat-rag"], repo) == {"chat-core": "1.2", "chat-storage": "1.0.0"}
    assert internal_closure("chat-rag", repo) == {"chat-rag", "chat-storage", "chat-core"}
    assert internal_closure("chat-core", repo) == {"chat-core"}
