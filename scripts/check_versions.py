"""`make check-versions`: internal ranges, recorded releases, the lock and the installed set agree.

uv does not check the version ranges members write on each other (they go verbatim into the wheels),
and `uv version --bump` never touches dependents, so these checks are ours:

1. every internal requirement has a range (lower bound and a cap) that contains the sibling's
   workspace version;
2. every member's CHANGELOG.md has a `## <version>` heading for its current version;
3. against the release manifest (releases.toml): a member whose files changed since the commit of its
   last recorded release must carry a version above that release (a pending release); a version
   below it is an error; a member with no recorded release was never released (nothing to compare);
4. `uv lock --check`, then `uv sync --all-packages --locked` and `uv pip check`.

The functions are also used by the tests (tests/architecture, tests/release) and the release scripts.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

sys.path.insert(0, str(Path(__file__).resolve().parent))
from releases import commit_exists, last_release

__all__ = [
    "ROOT",
    "Member",
    "changed_since",
    "floors",
    "internal_closure",
    "main",
    "members",
    "range_problems",
    "release_problems",
    "release_state",
]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MEMBER_GLOBS = ("packages/*", "services/*")
LOWER_BOUND_OPERATORS = (">=", "==", "~=")


@dataclass(frozen=True)
class Member:
    """One workspace member as its pyproject.toml declares it."""

    name: str
    """Canonical distribution name, e.g. `chat-core`."""
    version: str
    path: Path
    """The member directory (holds pyproject.toml and CHANGELOG.md)."""
    project: dict[str, Any]

    @property
    def requirements(self) -> list[Requirement]:
        """Dependencies and every extra's dependencies."""
        return self.requirements_for(set(self.project.get("optional-dependencies", {})))

    def requirements_for(self, extras: set[str]) -> list[Requirement]:
        """Dependencies plus those of the named extras."""
        listed = list(self.project.get("dependencies", []))
        optional = self.project.get("optional-dependencies", {})
        listed += [r for extra in sorted(extras) for r in optional.get(extra, [])]
        return [Requirement(text) for text in listed]

    @property
    def import_name(self) -> str:
        """The top-level module (src layout, dashes become underscores)."""
        return self.name.replace("-", "_")


def members(root: Path = ROOT) -> dict[str, Member]:
    """Canonical name -> member, for every workspace member under `root`."""
    globs: list[str] = list(DEFAULT_MEMBER_GLOBS)
    root_pyproject = root / "pyproject.toml"
    if root_pyproject.exists():
        config = tomllib.loads(root_pyproject.read_text())
        globs = config.get("tool", {}).get("uv", {}).get("workspace", {}).get("members", globs)
    found: dict[str, Member] = {}
    for pattern in globs:
        for path in sorted(root.glob(f"{pattern}/pyproject.toml")):
            project = tomllib.loads(path.read_text())["project"]
            name = canonicalize_name(project["name"])
            found[name] = Member(name, project["version"], path.parent, project)
    return dict(sorted(found.items()))


def range_problems(root: Path = ROOT) -> list[str]:
    """Bare, uncapped, floorless or excluding sibling requirements, in dependencies and extras alike."""
    projects = members(root)
    problems = []
    for member in projects.values():
        for requirement in member.requirements:
            sibling = projects.get(canonicalize_name(requirement.name))
            if sibling is None:
                continue
            where = f"{member.project['name']} -> {requirement}"
            if not requirement.specifier:
                problems.append(f"{where}: no version range (a wheel would accept any version)")
            elif not requirement.specifier.contains(sibling.version, prereleases=True):
                problems.append(f"{where}: excludes the workspace version {sibling.version}")
            elif not any(spec.operator in ("<", "==", "~=") for spec in requirement.specifier):
                problems.append(f"{where}: no upper bound below the next major version")
            elif not any(spec.operator in LOWER_BOUND_OPERATORS for spec in requirement.specifier):
                problems.append(f"{where}: no inclusive lower bound (>=, == or ~=)")
    return problems


def floors(member: Member, root: Path = ROOT) -> dict[str, str]:
    """Sibling name -> the lowest version `member`'s ranges allow (what minimum-version tests install)."""
    projects = members(root)
    lowest: dict[str, str] = {}
    for requirement in member.requirements:
        name = canonicalize_name(requirement.name)
        if name not in projects:
            continue
        bounds = [Version(s.version) for s in requirement.specifier if s.operator in LOWER_BOUND_OPERATORS]
        if not bounds:
            raise ValueError(f"{member.name} -> {requirement}: no inclusive lower bound")
        floor = max(bounds)
        if name not in lowest or Version(lowest[name]) < floor:
            lowest[name] = str(floor)
    return lowest


def internal_closure(name: str, root: Path = ROOT) -> set[str]:
    """`name` and every member an install of it pulls in (following the extras each requirement names)."""
    projects = members(root)
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(canonicalize_name(name), frozenset[str]())]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        member_name, extras = current
        todo += [
            (canonicalize_name(r.name), frozenset(r.extras))
            for r in projects[member_name].requirements_for(set(extras))
            if canonicalize_name(r.name) in projects
        ]
    return {member_name for member_name, _ in seen}


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return result.stdout


def changed_since(root: Path, commit: str, folder: Path) -> list[str]:
    """Files under `folder` that differ from `commit`: committed, uncommitted or untracked."""
    relative = folder.relative_to(root).as_posix()
    changed = _git(root, "diff", "--name-only", commit, "--", relative).split()
    changed += _git(root, "ls-files", "--others", "--exclude-standard", "--", relative).split()
    return sorted(set(changed))


def _changelog_has(member: Member, version: str) -> bool:
    changelog = member.path / "CHANGELOG.md"
    if not changelog.exists():
        return False
    heading = re.compile(rf"^##\s+\[?v?{re.escape(version)}\]?(\s|$)", re.MULTILINE)
    return heading.search(changelog.read_text()) is not None


def release_state(member: Member, root: Path = ROOT) -> str:
    """One line on where `member` stands against its last recorded release."""
    last = last_release(root, member.name)
    if last is None:
        return f"{member.name} {member.version}: never released"
    if Version(member.version) > last.version:
        return f"{member.name} {member.version}: pending release (last release {last.version})"
    return f"{member.name} {member.version}: released at {last.commit[:12]}"


def release_problems(root: Path = ROOT) -> list[str]:
    """Members changed since their last recorded release without a version above it and a changelog entry."""
    problems = []
    for member in members(root).values():
        if not _changelog_has(member, member.version):
            problems.append(f"{member.name}: CHANGELOG.md has no '## {member.version}' heading")
        last = last_release(root, member.name)
        if last is None:
            continue  # never released: nothing to compare
        current = Version(member.version)
        if not commit_exists(root, last.commit):
            problems.append(
                f"{member.name}: the commit {last.commit[:12]} of release {last.version} is not in this "
                "clone (fetch the whole history: git fetch --unshallow)"
            )
        elif current < last.version:
            problems.append(f"{member.name}: version {current} is lower than its last release {last.version}")
        elif current == last.version:
            changed = changed_since(root, last.commit, member.path)
            if changed:
                shown = ", ".join(changed[:5]) + (" ..." if len(changed) > 5 else "")
                problems.append(
                    f"{member.name}: {len(changed)} file(s) changed since release {last.version} "
                    f"(commit {last.commit[:12]}) without a version above it (uv version --package "
                    f"{member.name} --bump patch|minor|major, then a CHANGELOG.md entry): {shown}"
                )
    return problems


def _run(command: list[str]) -> bool:
    print("$", " ".join(command), flush=True)
    return subprocess.run(command, cwd=ROOT, check=False).returncode == 0


def main() -> int:
    """Run every check; print what is wrong; exit 1 when anything is."""
    uv = os.environ.get("UV", "uv")
    problems = range_problems() + release_problems()
    for member in members().values():
        print(release_state(member))
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    ok = not problems
    ok = _run([uv, "lock", "--check"]) and ok
    ok = _run([uv, "sync", "--all-packages", "--locked", "--quiet"]) and ok
    ok = _run([uv, "pip", "check"]) and ok
    print("check-versions: ok" if ok else "check-versions: FAILED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
