"""The release manifest, `releases.toml`: every release of every member, recorded in the repository.

One table per member and version: the release date, the commit its files were built from, and the
sha256 of the wheel and the sdist built reproducibly from that commit (scripts/build_wheels.py). A
member with no entry was never released. Git tags may exist too, but nothing reads them: a CI clone
has the manifest whether or not it fetched tags.

`make release` (scripts/release.py) appends to it; `make check-versions` compares the workspace
with it; the API check and the compatibility matrix build old versions from its commits.
"""

from __future__ import annotations

import datetime
import subprocess
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import Version

__all__ = [
    "MANIFEST",
    "Release",
    "commit_exists",
    "last_release",
    "load",
    "member_paths_at",
    "pyproject_at",
    "record",
]

MANIFEST = "releases.toml"
HEADER = """\
# Every release of every workspace member, appended by `make release` (scripts/release.py).
# Per member and version: the date, the commit the files were built from, and the sha256 of the
# wheel and sdist built reproducibly from that commit. See RELEASING.md ("The release manifest").
"""


@dataclass(frozen=True)
class Release:
    """One recorded release of one member."""

    name: str
    version: Version
    date: datetime.date
    commit: str
    """Full hash of the commit the release's files were built from."""
    wheel: str
    wheel_sha256: str
    sdist_sha256: str

    def as_toml(self) -> str:
        """This release as a TOML table."""
        return (
            f'[{self.name}."{self.version}"]\n'
            f"date = {self.date.isoformat()}\n"
            f'commit = "{self.commit}"\n'
            f'wheel = "{self.wheel}"\n'
            f'wheel-sha256 = "{self.wheel_sha256}"\n'
            f'sdist-sha256 = "{self.sdist_sha256}"\n'
        )


def _release(name: str, version: str, table: dict[str, Any]) -> Release:
    date = table["date"]
    if not isinstance(date, datetime.date):
        raise ValueError(f"{MANIFEST}: {name} {version}: date must be a TOML date, e.g. 2026-11-22")
    return Release(
        name=canonicalize_name(name),
        version=Version(version),
        date=date,
        commit=str(table["commit"]),
        wheel=str(table["wheel"]),
        wheel_sha256=str(table["wheel-sha256"]),
        sdist_sha256=str(table["sdist-sha256"]),
    )


def load(root: Path) -> dict[str, list[Release]]:
    """Member name -> its releases, oldest first. No manifest: nothing was ever released."""
    path = root / MANIFEST
    if not path.exists():
        return {}
    data = tomllib.loads(path.read_text())
    releases = {
        canonicalize_name(name): sorted(
            (_release(name, version, table) for version, table in versions.items()),
            key=lambda release: release.version,
        )
        for name, versions in data.items()
    }
    return dict(sorted(releases.items()))


def last_release(root: Path, name: str) -> Release | None:
    """The highest recorded release of `name`, or None when it was never released."""
    releases = load(root).get(canonicalize_name(name), [])
    return releases[-1] if releases else None


def record(root: Path, new: list[Release]) -> None:
    """Add releases to the manifest (rewritten sorted by member and version); a recorded one is refused."""
    releases = load(root)
    for release in new:
        recorded = releases.setdefault(release.name, [])
        if any(old.version == release.version for old in recorded):
            raise ValueError(f"{release.name} {release.version} is already in {MANIFEST}")
        recorded.append(release)
    tables = [
        release.as_toml()
        for name in sorted(releases)
        for release in sorted(releases[name], key=lambda r: r.version)
    ]
    (root / MANIFEST).write_text(HEADER + "".join(f"\n{table}" for table in tables))


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def commit_exists(root: Path, commit: str) -> bool:
    """Whether `commit` is in this clone (a shallow clone may lack a release's commit)."""
    probe = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=root, capture_output=True, check=False
    )
    return probe.returncode == 0


def _matches(folder: str, pattern: str) -> bool:
    """Whether `folder` matches a workspace glob segment by segment (`*` never spans a `/`)."""
    parts, wanted = folder.split("/"), pattern.split("/")
    return len(parts) == len(wanted) and all(map(fnmatch, parts, wanted))


def member_paths_at(root: Path, commit: str) -> dict[str, str]:
    """Member name -> its folder (relative to the root) in the tree of `commit`."""
    workspace = tomllib.loads(_git(root, "show", f"{commit}:pyproject.toml"))
    globs = workspace["tool"]["uv"]["workspace"]["members"]
    found: dict[str, str] = {}
    for path in _git(root, "ls-tree", "-r", "--name-only", commit).splitlines():
        folder, _, file = path.rpartition("/")
        if file == "pyproject.toml" and any(_matches(folder, pattern) for pattern in globs):
            project = tomllib.loads(_git(root, "show", f"{commit}:{path}"))["project"]
            found[canonicalize_name(project["name"])] = folder
    return found


def pyproject_at(root: Path, commit: str, name: str) -> dict[str, Any]:
    """The `[project]` table of member `name` as it was in `commit`."""
    folder = member_paths_at(root, commit)[canonicalize_name(name)]
    project: dict[str, Any] = tomllib.loads(_git(root, "show", f"{commit}:{folder}/pyproject.toml"))[
        "project"
    ]
    return project
