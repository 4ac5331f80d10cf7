"""The release scenario, end to end, in a clone of the current commit against a real local index.

1. chat-core gets a new public function and `make release PACKAGE=chat-core BUMP=minor` releases
   1.1.0: its dependents are untouched (same files, same recorded releases) and their fast matrix
   passes against chat-core 1.0.0 and 1.1.0; a second run has nothing to do.
2. A change removes that public function with only a patch bump: `make check-api` (as `make test`
   runs it) fails and names it.
3. `make release PACKAGE=chat-core BUMP=major` re-bumps to 2.0.0, raises the `<2` caps of chat-storage,
   chat-rag, app-api and inference-api and releases each of them too.
4. app-api installed from the index (scripts/install-from-index.sh) and with the image's steps
   (docker/install-service.sh) holds the new set, byte for byte the recorded wheels, and its SBOM
   lists exactly that set.

Minutes long (three builds, two fast matrices, four installs): run by `make compat` and `make
release-scenario` (CHAT_COMPAT=full), skipped otherwise.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from build_wheels import build_commit
from check_versions import internal_closure, members
from packaging.utils import canonicalize_name
from packaging.version import Version
from release import plan
from release_harness import (
    ROOT,
    UV,
    Index,
    clean_env,
    installed,
    installed_from,
    pypiserver,
    run,
    scratch,
    sha256,
)
from releases import load

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("CHAT_COMPAT") != "full", reason="minutes long: make compat runs it"),
]
TODAY = datetime.datetime.now(datetime.UTC).date().isoformat()
NEW_FUNCTION = '''

def utc_today() -> date:
    """Today's date in UTC."""
    return utc_now().date()
'''


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    """Minutes-long scratch space, outside pytest's basetemps (see release_harness.scratch)."""
    with scratch("scenario-") as path:
        yield path


@pytest.fixture(scope="module")
def index(folder: Path) -> Iterator[Index]:
    """A private index holding every recorded release, rebuilt from its commit (as published before)."""
    by_commit: dict[str, list[str]] = {}
    for name, releases in load(ROOT).items():
        for release in releases:
            by_commit.setdefault(release.commit, []).append(name)
    with pypiserver(
        folder / "packages", folder / "pypiserver.log", credentials=("ci", secrets.token_urlsafe(12))
    ) as private:
        for number, (commit, names) in enumerate(sorted(by_commit.items())):
            build_commit(commit, folder / f"dist-{number}", names=names)
            run(
                [sys.executable, ROOT / "scripts" / "publish.py", "--dist", folder / f"dist-{number}"],
                env=private.env(),
            )
        yield private


@pytest.fixture(scope="module")
def clone(folder: Path) -> Path:
    """A clone of the current commit with its own synced environment."""
    repo = folder / "repo"
    run(["git", "clone", "--quiet", ROOT, repo])
    run([UV, "sync", "--all-packages", "--locked", "--quiet"], cwd=repo, env=clean_env())
    return repo


UV_PATH = shutil.which(UV) or UV


def env_for(index: Index) -> dict[str, str]:
    """The release manager's environment: the index and its credentials, a git identity, uv."""
    identity = {"GIT_AUTHOR_NAME": "Release", "GIT_AUTHOR_EMAIL": "release@example.com"}
    identity |= {"GIT_COMMITTER_NAME": "Release", "GIT_COMMITTER_EMAIL": "release@example.com"}
    return index.env(UV=UV_PATH, **identity)


def make(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = ["make", "--no-print-directory", f"UV={UV_PATH}", *args]
    return subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, check=False)


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], cwd=repo).strip()


def commit_all(repo: Path, message: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com"}
    env |= {"GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}
    subprocess.run(["git", "commit", "-qam", message], cwd=repo, env=env, check=True)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path}: {old!r}"
    path.write_text(text.replace(old, new, 1))


def versions(repo: Path) -> dict[str, str]:
    """Member -> its last recorded release."""
    return {name: str(releases[-1].version) for name, releases in load(repo).items()}


def dependents_of(repo: Path, library: str) -> list[str]:
    """The released members that require `library` directly."""
    return [
        name
        for name, member in members(repo).items()
        if name in load(repo) and any(canonicalize_name(r.name) == library for r in member.requirements)
    ]


def after_the_major(repo: Path) -> dict[str, str]:
    """What the major release of chat-core releases each dependent as: its pending version if it has one
    (other work may be pending on main), else a patch over its last release."""
    expected = {}
    for name in dependents_of(repo, "chat-core"):
        current, last = Version(members(repo)[name].version), Version(versions(repo)[name])
        expected[name] = str(
            current if current > last else Version(f"{last.major}.{last.minor}.{last.micro + 1}")
        )
    return expected


def section(changelog: Path, heading: str) -> str:
    """The text of the CHANGELOG section whose heading line is `heading`."""
    text = changelog.read_text()
    start = text.index(f"{heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def released_ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-4000:]
    assert re.search(r"\[app-api\[[^]]*\]\] PASSED", result.stdout), result.stdout[-3000:]  # the fast matrix
    assert " FAILED" not in result.stdout
    return result.stdout


def release_with_requirements(clone: Path, env: dict[str, str], name: str) -> None:
    """`make release PACKAGE=name` (its pending or first version), after what it requires and is unreleased."""
    for requirement in members(clone)[name].requirements:
        dependency = canonicalize_name(requirement.name)
        recorded = [r.version for r in load(clone).get(dependency, [])]
        if dependency in members(clone) and not any(v in requirement.specifier for v in recorded):
            release_with_requirements(clone, env, dependency)
    if name not in load(clone) or Version(members(clone)[name].version) > load(clone)[name][-1].version:
        released_ok(make(clone, env, "release", f"PACKAGE={name}"))
        assert versions(clone)[name] == members(clone)[name].version


def test_the_release_scenario(clone: Path, index: Index, folder: Path) -> None:
    env = env_for(index)
    core = members(clone)["chat-core"].path
    clock = core / "src" / "chat_core" / "clock.py"

    # 1. A new public function in chat-core, released as a minor release (1.1.0, or what is pending).
    edit(clock, '__all__ = ["utc_now"]', '__all__ = ["utc_now", "utc_today"]')
    edit(clock, "from datetime import UTC, datetime", "from datetime import UTC, date, datetime")
    clock.write_text(clock.read_text() + NEW_FUNCTION)
    edit(core / "CHANGELOG.md", "## 1.0.0", "## Unreleased\n\n- `chat_core.clock.utc_today`.\n\n## 1.0.0")
    commit_all(clone, "chat-core: utc_today")
    minor = str(plan(clone, "chat-core", "minor").target)
    before, released_before = git(clone, "rev-parse", "HEAD"), versions(clone)
    released_ok(make(clone, env, "release", "PACKAGE=chat-core", "BUMP=minor"))
    assert versions(clone) == released_before | {"chat-core": minor}
    (release_minor,) = [r for r in load(clone)["chat-core"] if str(r.version) == minor]
    assert release_minor.commit == git(clone, "rev-parse", "HEAD~1")
    others = [str(m.path) for name, m in members(clone).items() if name != "chat-core"]  # wherever they live
    assert git(clone, "diff", "--name-only", before, "HEAD", "--", *others) == ""
    assert "- `chat_core.clock.utc_today`." in section(core / "CHANGELOG.md", f"## {minor} - {TODAY}")
    assert sha256(index.packages / release_minor.wheel) == release_minor.wheel_sha256

    released = git(clone, "rev-parse", "HEAD")
    again = make(clone, env, "release", "PACKAGE=chat-core", "BUMP=minor")  # idempotent
    assert again.returncode == 0, again.stderr
    assert f"chat-core {minor} is released" in again.stdout
    assert "nothing changed since" in again.stdout
    assert git(clone, "rev-parse", "HEAD") == released

    # Members never released yet (a library added since the last releases) get their first release,
    # after the pending releases they require.
    for name in sorted(set(members(clone)) - set(load(clone)), key=lambda n: len(internal_closure(n, clone))):
        release_with_requirements(clone, env, name)

    # 2. Removing that public function with a patch bump fails the API check that `make test` runs.
    clock.write_text(clock.read_text().replace(NEW_FUNCTION, "").replace(', "utc_today"]', "]"))
    edit(clock, "from datetime import UTC, date, datetime", "from datetime import UTC, datetime")
    run(
        [UV, "version", "--package", "chat-core", "--bump", "patch", "--frozen", "--quiet"],
        cwd=clone,
        env=clean_env(),
    )
    patch = members(clone)["chat-core"].version
    edit(
        core / "CHANGELOG.md",
        f"## {minor} - {TODAY}",
        f"## {patch}\n\n- `utc_today` removed.\n\n## {minor} - {TODAY}",
    )
    run([UV, "lock", "--quiet"], cwd=clone, env=clean_env())
    commit_all(clone, "chat-core: utc_today removed")
    assert make(clone, env, "check-versions").returncode == 0  # a pending release is fine for the versions
    check = make(clone, env, "check-api")
    assert check.returncode != 0
    assert "chat_core.clock.utc_today: Public object was removed [object-removed]" in check.stdout
    assert (
        f"chat-core {patch} against release {minor}: 1 breaking change(s) without a major version"
        in check.stdout
    )

    # 3. The major release: 2.0.0, caps raised in every dependent, which are released too.
    expected = after_the_major(clone)
    assert {"chat-storage", "chat-rag", "app-api", "inference-api"} <= set(expected)
    released_ok(make(clone, env, "release", "PACKAGE=chat-core", "BUMP=major"))
    assert {name: versions(clone)[name] for name in ["chat-core", *expected]} == {
        "chat-core": "2.0.0"
    } | expected
    recorded = {name: releases[-1] for name, releases in load(clone).items()}
    assert len({recorded[name].commit for name in ["chat-core", *expected]}) == 1
    for dependent in expected:
        path = members(clone)[dependent].path
        assert re.search(r'"chat-core(\[\w+\])?>=[0-9.]+,<3"', (path / "pyproject.toml").read_text()), (
            dependent
        )
        assert "Accepts chat-core 2" in (path / "CHANGELOG.md").read_text(), dependent
    assert "- `utc_today` removed." in section(core / "CHANGELOG.md", f"## 2.0.0 - {TODAY}")
    assert make(clone, env, "check-api").returncode == 0
    for release in recorded.values():
        assert sha256(index.packages / release.wheel) == release.wheel_sha256, release.wheel

    # 4. app-api from the index, and with the image's steps: the new set, the recorded bytes, the SBOM.
    from_index, image = folder / "app-api-index", folder / "app-api-image"
    run(["bash", clone / "scripts" / "install-from-index.sh", "app-api", from_index], env=env, cwd=clone)
    run(["bash", clone / "docker" / "install-service.sh", "app-api", image], env=clean_env(), cwd=clone)
    internal = {name: v for name, v in installed(from_index).items() if name in recorded}
    assert internal == {name: str(recorded[name].version) for name in internal_closure("app-api", clone)}
    assert internal["chat-core"] == "2.0.0"
    for name in internal:
        assert installed_from(from_index, name, index.packages / recorded[name].wheel), name
    assert installed(image) == installed(from_index)
    sbom = json.loads((clone / "dist" / "sbom" / f"app-api-{internal['app-api']}.cdx.json").read_text())
    listed = sorted(
        (canonicalize_name(c["name"]), c["version"])
        for c in [sbom["metadata"]["component"], *sbom["components"]]
    )
    assert listed == sorted(installed(image).items())
