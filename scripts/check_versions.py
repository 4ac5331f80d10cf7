"""`make check-versions`: internal ranges, release tags, the lock and the installed set agree.

uv does not check the version ranges members write on each other (they go verbatim into the wheels),
and `uv version --bump` never touches dependents, so these checks are ours:

1. every internal requirement has a range (lower bound and a cap) that contains the sibling's
   workspace version;
2. a member whose files changed since its last release tag `<dist>-v<version>` carries a version bump
   and a `## <version>` heading in its CHANGELOG.md (no tag yet: never released, nothing to compare);
3. `uv lock --check`, then `uv sync --all-packages --locked` and `uv pip check`.

The functions are also used by the tests (tests/architecture, tests/release).
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
from packaging.version import InvalidVersion, Version

__all__ = [
    "ROOT",
    "Member",
    "floors",
    "internal_closure",
    "main",
    "members",
    "range_problems",
    "release_problems",
    "release_tag",
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


def release_tag(name: str, version: str) -> str:
    """The git tag of a release: `<dist>-v<version>`, e.g. `chat-core-v1.2.0`."""
    return f"{name}-v{version}"


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return result.stdout


def _last_release(root: Path, name: str) -> Version | None:
    versions = []
    for tag in _git(root, "tag", "--list", f"{name}-v*").split():
        try:
            versions.append(Version(tag.removeprefix(f"{name}-v")))
        except InvalidVersion:  # JUSTIFICATION: a tag such as chat-core-vnext is not a release tag
            continue
    return max(versions, default=None)


def _changelog_has(member: Member, version: str) -> bool:
    changelog = member.path / "CHANGELOG.md"
    if not changelog.exists():
        return False
    heading = re.compile(rf"^##\s+\[?v?{re.escape(version)}\]?(\s|$)", re.MULTILINE)
    return heading.search(changelog.read_text()) is not None


def release_problems(root: Path = ROOT) -> list[str]:
    """Members changed since their last release tag without a version bump and changelog entry."""
    problems = []
    for member in members(root).values():
        relative = member.path.relative_to(root).as_posix()
        if not _changelog_has(member, member.version):
            problems.append(f"{member.name}: CHANGELOG.md has no '## {member.version}' heading")
        last = _last_release(root, member.name)
        if last is None:
            continue  # never released: nothing to compare
        tag = release_tag(member.name, str(last))
        current = Version(member.version)
        if current < last:
            problems.append(f"{member.name}: version {current} is lower than the last release tag {tag}")
        elif current == last:
            changed = _git(root, "diff", "--name-only", tag, "--", relative).split()
            changed += _git(root, "ls-files", "--others", "--exclude-standard", "--", relative).split()
            if changed:
                shown = ", ".join(sorted(changed)[:5]) + (" ..." if len(changed) > 5 else "")
                problems.append(
                    f"{member.name}: {len(changed)} file(s) changed since {tag} without a version bump "
                    f"(uv version --package {member.name} --bump patch|minor|major, then a "
                    f"CHANGELOG.md entry): {shown}"
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
        last = _last_release(ROOT, member.name)
        state = f"last release {release_tag(member.name, str(last))}" if last else "never released"
        print(f"{member.name} {member.version}: {state}")
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
