"""`make release PACKAGE=<dist> BUMP=patch|minor|major`: release a member, and the dependents it forces.

1. Refuses a dirty working tree, and a missing `CHAT_INDEX_URL` unless `--no-publish` (record only).
2. Decides the version against the member's last recorded release (releases.toml):
   - never released: its current version is its first release (no BUMP);
   - nothing changed since its release: nothing to do (exit 0), which makes a repeated run harmless;
   - changed, still at the released version: `uv version --bump BUMP` (BUMP required);
   - already above it (a pending release): that version is released. A BUMP smaller than the pending
     step (patch < minor < major) is refused; a bigger one re-bumps from the release (1.1.0 pending
     over 1.0.0 with BUMP=major becomes 2.0.0, its CHANGELOG section renamed).
3. The API check (scripts/check_api.py) at that version: breaking changes need a major version.
4. CHANGELOG.md: an `## Unreleased` section becomes (or is merged into) `## <version> - <date>`.
5. Requirements: every internal requirement of a released member must be met by a recorded release
   (or one of the same run): a member is never published before what it needs.
6. Dependents: a member whose range excludes the new version (a major release over the `<N` cap)
   gets its cap raised to the next major and, when it was released before, a patch bump with a
   CHANGELOG line; such dependents are released in the same run, as is any dependent whose last
   release's range excludes it (a rerun after a failure finds them that way).
7. `uv lock`, `make check-versions`'s checks, the fast part of the compatibility matrix; on failure
   the edits are undone. Then one commit "Release ...".
8. Builds the released members from that commit (reproducible, `git archive`), writes the services'
   SBOMs, uploads to `CHAT_INDEX_URL` (an identical file already there is skipped, a different one
   refused), records each release in releases.toml (date, commit, sha256), and commits that.

A run stopped after step 7 resumes when run again: the members are then pending releases.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_wheels import build_commit
from check_api import check, libraries
from check_versions import ROOT, Member, changed_since, members
from publish import publish
from releases import MANIFEST, Release, last_release, load, pyproject_at, record
from sbom import image_services, write_sboms

__all__ = ["BUMPS", "Plan", "ReleaseError", "main", "plan", "release", "unreleased_requirements"]

BUMPS = ("patch", "minor", "major")
UV = os.environ.get("UV", "uv")
UNRELEASED = re.compile(r"^##\s+\[?unreleased\]?\s*$", re.IGNORECASE | re.MULTILINE)


class ReleaseError(Exception):
    """A release refused or failed; the message says why and what to do."""


@dataclass(frozen=True)
class Plan:
    """What releasing one member means: from which recorded release to which version, and how."""

    name: str
    last: Release | None
    current: Version
    target: Version
    action: str
    """`first`, `bump`, `pending`, `rebump`, or `nothing` (released, unchanged since)."""


def _step(old: Version, new: Version) -> str:
    if new.major != old.major:
        return "major"
    return "minor" if new.minor != old.minor else "patch"


def _bumped(version: Version, kind: str) -> Version:
    major, minor, patch = version.major, version.minor, version.micro
    if kind == "major":
        return Version(f"{major + 1}.0.0")
    return Version(f"{major}.{minor + 1}.0" if kind == "minor" else f"{major}.{minor}.{patch + 1}")


def plan(root: Path, name: str, bump: str | None) -> Plan:
    """Decide the version to release (see the module docstring); raise ReleaseError to refuse."""
    member = members(root)[name]
    last = last_release(root, name)
    current = Version(member.version)
    if last is None:
        if bump:
            raise ReleaseError(
                f"{name} was never released: its first release is its current version {current}; "
                "run without BUMP (or set the version with uv version first)"
            )
        return Plan(name, None, current, current, "first")
    if current < last.version:
        raise ReleaseError(f"{name} {current} is below its last release {last.version}")
    if current == last.version:
        if not changed_since(root, last.commit, member.path):
            return Plan(name, last, current, current, "nothing")
        if not bump:
            raise ReleaseError(f"{name} changed since {last.version}: say BUMP=patch|minor|major")
        return Plan(name, last, current, _bumped(last.version, bump), "bump")
    pending = _step(last.version, current)
    if bump is None or bump == pending:
        return Plan(name, last, current, current, "pending")
    if BUMPS.index(bump) < BUMPS.index(pending):
        raise ReleaseError(
            f"{name} {current} is a pending {pending} release over {last.version}; "
            f"BUMP={bump} would be smaller: use BUMP={pending}"
        )
    return Plan(name, last, current, _bumped(last.version, bump), "rebump")


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def _run(command: list[str], root: Path, env: dict[str, str] | None = None) -> None:
    print("$", " ".join(command), flush=True)
    if subprocess.run(command, cwd=root, env=env, check=False).returncode != 0:
        raise ReleaseError(f"failed: {' '.join(command)}")


def _heading(version: Version | str) -> re.Pattern[str]:
    return re.compile(rf"^##\s+\[?v?{re.escape(str(version))}\]?(\s.*)?$", re.MULTILINE)


def _sections(text: str) -> list[tuple[int, int]]:
    """(start, end) of every `## ` section."""
    starts = [m.start() for m in re.finditer(r"^## ", text, re.MULTILINE)]
    return list(zip(starts, [*starts[1:], len(text)], strict=True))


def _section_at(text: str, pattern: re.Pattern[str]) -> tuple[int, int] | None:
    found = pattern.search(text)
    if found is None:
        return None
    return next(section for section in _sections(text) if section[0] == found.start())


def date_changelog(path: Path, plan_: Plan, date: datetime.date) -> None:
    """Put the release's changes under `## <version> - <date>` (from `## Unreleased` and/or a pending section)."""
    text = path.read_text()
    dated = f"## {plan_.target} - {date.isoformat()}"
    if plan_.action == "rebump":
        text = _heading(plan_.current).sub(f"## {plan_.target}", text, count=1)
    unreleased = _section_at(text, UNRELEASED)
    notes = ""
    if unreleased is not None:
        notes = text[unreleased[0] : unreleased[1]].split("\n", 1)[1].strip("\n")
        text = text[: unreleased[0]] + text[unreleased[1] :]
    section = _section_at(text, _heading(plan_.target))
    if section is None:
        if not notes.strip():
            raise ReleaseError(
                f"{path}: no '## Unreleased' or '## {plan_.target}' section lists the changes; write one"
            )
        first = _sections(text)[0][0] if _sections(text) else len(text)
        text = f"{text[:first]}{dated}\n\n{notes}\n\n{text[first:]}"
    else:
        start, end = section
        heading, _, body = text[start:end].partition("\n")
        if re.search(r"\d{4}-\d{2}-\d{2}", heading) is None:
            heading = dated
        body = body.strip("\n") + (f"\n{notes}" if notes else "")
        text = f"{text[:start]}{heading}\n\n{body}\n\n{text[end:]}"
    path.write_text(text.rstrip("\n") + "\n")


def add_changelog_line(member: Member, version: Version, line: str) -> None:
    """Add a bullet under `## <version>` (created at the top when missing)."""
    path = member.path / "CHANGELOG.md"
    text = path.read_text()
    section = _section_at(text, _heading(version))
    if section is None:
        first = _sections(text)[0][0] if _sections(text) else len(text)
        text = f"{text[:first]}## {version}\n\n- {line}\n\n{text[first:]}"
    else:
        heading_end = text.index("\n", section[0]) + 1
        text = f"{text[:heading_end]}\n- {line}{text[heading_end:]}".replace("\n\n\n- ", "\n\n- ")
    path.write_text(text)


def _raised(written: str, target: Version) -> str:
    """`written` (a requirement as the pyproject spells it) with its `<N` cap raised to admit `target`."""
    requirement = Requirement(written)
    if any(s.operator in ("==", "~=", "<=", "===") for s in requirement.specifier):
        raise ReleaseError(f"'{written}' pins a version that excludes {target}: edit it by hand")
    if not any(s.operator == "<" for s in requirement.specifier):
        raise ReleaseError(f"'{written}' excludes {target} without a '<' cap: edit it by hand")
    return re.sub(r"<\s*[0-9][0-9.]*", f"<{target.major + 1}", written)


def raise_caps(root: Path, targets: dict[str, Version]) -> dict[str, list[str]]:
    """Raise the `<N` cap of every internal requirement that excludes a target; member -> what changed."""
    changed: dict[str, list[str]] = {}
    for member in members(root).values():
        pyproject = member.path / "pyproject.toml"
        text = pyproject.read_text()
        written = list(member.project.get("dependencies", []))
        written += [r for extra in member.project.get("optional-dependencies", {}).values() for r in extra]
        for raw in written:
            requirement = Requirement(raw)
            target = targets.get(canonicalize_name(requirement.name))
            if target is None or requirement.specifier.contains(target, prereleases=True):
                continue
            new = _raised(raw, target)
            text = text.replace(f'"{raw}"', f'"{new}"').replace(f"'{raw}'", f"'{new}'")
            changed.setdefault(member.name, []).append(
                f"Accepts {requirement.name} {target.major} (`{new}`)."
            )
        pyproject.write_text(text)
    return changed


def _excluded_by_last_release(root: Path, name: str, targets: dict[str, Version]) -> bool:
    last = last_release(root, name)
    if last is None:
        return False
    project = pyproject_at(root, last.commit, name)
    listed = list(project.get("dependencies", []))
    listed += [r for extra in project.get("optional-dependencies", {}).values() for r in extra]
    for requirement in map(Requirement, listed):
        target = targets.get(canonicalize_name(requirement.name))
        if target is not None and not requirement.specifier.contains(target, prereleases=True):
            return True
    return False


def unreleased_requirements(root: Path, targets: dict[str, Version]) -> list[str]:
    """Internal requirements of the members being released that no recorded (or same-run) release meets.

    Publishing such a member would send installers looking for its requirement elsewhere, the public
    index included: its requirements are released first.
    """
    problems = []
    projects = members(root)
    for name in targets:
        for requirement in projects[name].requirements:
            dependency = canonicalize_name(requirement.name)
            if dependency not in projects:
                continue
            released = [r.version for r in load(root).get(dependency, [])]
            released += [targets[dependency]] if dependency in targets else []
            if not any(requirement.specifier.contains(v, prereleases=True) for v in released):
                problems.append(
                    f"{name} requires {requirement}, and no release of {dependency} in that range is recorded: "
                    f"release {dependency} first (make release PACKAGE={dependency})"
                )
    return problems


def _set_version(root: Path, name: str, version: Version) -> None:
    _run([UV, "version", "--package", name, str(version), "--frozen", "--quiet"], root)


def release(root: Path, name: str, bump: str | None, *, publish_to: str | None, date: datetime.date) -> int:
    """Release `name` (see the module docstring); return the exit status."""
    name = str(canonicalize_name(name))
    if name not in members(root):
        raise ReleaseError(f"no workspace member {name!r}; members: {', '.join(members(root))}")
    dirty = _git(root, "status", "--porcelain")
    if dirty:
        raise ReleaseError(f"the working tree is not clean; commit or stash first:\n{dirty}")
    first = plan(root, name, bump)
    if first.action == "nothing":
        assert first.last is not None
        print(f"{name} {first.current} is released (commit {first.last.commit[:12]}); nothing changed since")
        return 0
    plans: dict[str, Plan] = {name: first}
    try:
        _apply(root, first, bump, date)
        targets = {name: first.target}
        for dependent, lines in raise_caps(root, targets).items():
            last = last_release(root, dependent)
            version = Version(members(root)[dependent].version)
            if last is not None and version == last.version:
                version = _bumped(version, "patch")
                _set_version(root, dependent, version)
            for line in lines:
                add_changelog_line(members(root)[dependent], version, line)
        for dependent in members(root):
            if dependent != name and _excluded_by_last_release(root, dependent, targets):
                plans[dependent] = plan(root, dependent, None)
                if plans[dependent].action == "nothing":
                    raise ReleaseError(f"{dependent}'s released range excludes {name} {first.target}")
                _apply(root, plans[dependent], None, date)
        missing = unreleased_requirements(root, {n: p.target for n, p in plans.items()})
        if missing:
            raise ReleaseError("; ".join(missing))
        for library in [n for n in plans if n in libraries(root)]:
            report = check(root, library, plans[library].target)
            print("\n".join(report.lines()), flush=True)
            if not report.ok:
                raise ReleaseError(f"{library} {plans[library].target} breaks its API: see above")
        _run([UV, "lock", "--quiet"], root)
        _run([sys.executable, str(root / "scripts" / "check_versions.py")], root)
        matrix = [
            sys.executable,
            "-m",
            "pytest",
            "tests/release/test_compat.py",
            "-v",
            "-p",
            "no:cacheprovider",
        ]
        _run(matrix, root, env={**os.environ, "CHAT_COMPAT": "release"})  # floors and newest of app-api
    except BaseException:
        _git(root, "checkout", "HEAD", "--", ".")  # the tree was clean: this undoes exactly our edits
        raise
    released = ", ".join(f"{n} {p.target}" for n, p in plans.items())
    if _git(root, "status", "--porcelain"):
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", f"Release {released}")
    commit = _git(root, "rev-parse", "HEAD").strip()
    return _build_publish_record(root, plans, commit, publish_to, date)


def _apply(root: Path, plan_: Plan, bump: str | None, date: datetime.date) -> None:
    """Set the version (`uv version --bump` for a plain bump) and date the CHANGELOG section."""
    if plan_.action == "bump":
        _run([UV, "version", "--package", plan_.name, "--bump", str(bump), "--frozen", "--quiet"], root)
        if Version(members(root)[plan_.name].version) != plan_.target:
            raise ReleaseError(f"uv version --bump {bump} did not give {plan_.name} {plan_.target}")
    elif plan_.target != plan_.current:
        _set_version(root, plan_.name, plan_.target)
    date_changelog(members(root)[plan_.name].path / "CHANGELOG.md", plan_, date)


def _build_publish_record(
    root: Path, plans: dict[str, Plan], commit: str, publish_to: str | None, date: datetime.date
) -> int:
    dist = root / "dist"
    build_commit(commit, dist, names=list(plans))
    files = sorted([*dist.glob("*.whl"), *dist.glob("*.tar.gz")])
    entries = []
    for name, plan_ in plans.items():
        stem = f"{name.replace('-', '_')}-{plan_.target}"
        wheel, sdist = dist / f"{stem}-py3-none-any.whl", dist / f"{stem}.tar.gz"
        if not (wheel.exists() and sdist.exists()):
            raise ReleaseError(f"the build of {commit[:12]} did not give {wheel.name} and {sdist.name}")
        digest = [hashlib.sha256(path.read_bytes()).hexdigest() for path in (wheel, sdist)]
        entries.append(Release(name, plan_.target, date, commit, wheel.name, *digest))
    services = [name for name in plans if name in image_services(root)]
    for path in write_sboms(dist / "sbom", root, services) if services else []:
        print(f"SBOM: {path.relative_to(root)}")
    if publish_to is not None:
        result = publish(
            files,
            publish_to,
            publish_url=os.environ.get("CHAT_PUBLISH_URL") or None,
            username=os.environ.get("CHAT_INDEX_USERNAME") or None,
            password=os.environ.get("CHAT_INDEX_PASSWORD") or None,
        )
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        if result.returncode != 0:
            raise ReleaseError(
                f"publishing to {publish_to} failed; the release commit {commit[:12]} stays: rerun"
            )
    else:
        print(
            "--no-publish: recorded without uploading (make publish from this commit uploads the same bytes)"
        )
    record(root, entries)
    _git(root, "add", MANIFEST)
    names = ", ".join(f"{e.name} {e.version}" for e in entries)
    _git(root, "commit", "-q", "-m", f"releases.toml: {names} (built from {commit[:12]})")
    for entry in entries:
        print(f"released {entry.name} {entry.version}: {entry.wheel} sha256 {entry.wheel_sha256}")
    return 0


def main() -> int:
    """Parse the arguments, release, print why when refused."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--package", required=True, help="the member to release, e.g. chat-core")
    parser.add_argument("--bump", choices=BUMPS, help="patch, minor or major (see RELEASING.md)")
    parser.add_argument("--no-publish", action="store_true", help="record the release without uploading")
    parser.add_argument(
        "--date", type=datetime.date.fromisoformat, default=datetime.datetime.now(datetime.UTC).date()
    )
    args = parser.parse_args()
    index_url = os.environ.get("CHAT_INDEX_URL") or None
    try:
        if index_url is None and not args.no_publish:
            raise ReleaseError(
                "set CHAT_INDEX_URL (and CHAT_INDEX_USERNAME/PASSWORD), or PUBLISH=no to record only"
            )
        return release(
            ROOT, args.package, args.bump, publish_to=None if args.no_publish else index_url, date=args.date
        )
    except ReleaseError as error:
        print(f"release refused: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
