"""Internal dependency ranges: present, containing the sibling's version, and a lock in sync."""

import subprocess
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from rules import ROOT


def members(root: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    found = {}
    for path in sorted([*root.glob("packages/*/pyproject.toml"), *root.glob("services/*/pyproject.toml")]):
        project = tomllib.loads(path.read_text())["project"]
        found[canonicalize_name(project["name"])] = project | {"_path": path}
    return found


def range_problems(root: Path) -> list[str]:
    """Bare or excluding sibling requirements, in dependencies and extras alike."""
    projects = members(root)
    problems = []
    for project in projects.values():
        requirements = list(project.get("dependencies", []))
        requirements += [r for extra in project.get("optional-dependencies", {}).values() for r in extra]
        for requirement in map(Requirement, requirements):
            sibling = projects.get(canonicalize_name(requirement.name))
            if sibling is None:
                continue
            where = f"{project['name']} -> {requirement}"
            if not requirement.specifier:
                problems.append(f"{where}: no version range (a wheel would accept any version)")
            elif not requirement.specifier.contains(sibling["version"], prereleases=True):
                problems.append(f"{where}: excludes the workspace version {sibling['version']}")
            elif not any(spec.operator == "<" for spec in requirement.specifier):
                problems.append(f"{where}: no upper bound below the next major version")
    return problems


def test_every_internal_dependency_has_a_range_containing_the_sibling() -> None:
    assert range_problems(ROOT) == []


def test_every_member_is_private_and_typed() -> None:
    for project in members(ROOT).values():
        assert "Private :: Do Not Upload" in project["classifiers"], project["name"]
        package_dir = project["_path"].parent / "src" / project["name"].replace("-", "_")
        assert (package_dir / "py.typed").exists(), project["name"]
        assert (project["_path"].parent / "CHANGELOG.md").exists(), project["name"]


def test_build_backend_is_pinned() -> None:
    for project in members(ROOT).values():
        build = tomllib.loads(project["_path"].read_text())["build-system"]
        assert build["requires"] == ["hatchling==1.33.0"], project["name"]


class TestRangeRuleCatchesMistakes:
    def make(self, tmp_path: Path, dependency: str) -> list[str]:
        for name, version, deps in [("chat-core", "1.4.0", []), ("chat-storage", "1.0.0", [dependency])]:
            folder = tmp_path / "packages" / name
            folder.mkdir(parents=True)
            (folder / "pyproject.toml").write_text(
                f'[project]\nname = "{name}"\nversion = "{version}"\ndependencies = {deps!r}\n'.replace(
                    "'", '"'
                )
            )
        return range_problems(tmp_path)

    def test_bare_sibling(self, tmp_path: Path) -> None:
        assert self.make(tmp_path, "chat-core") == [
            "chat-storage -> chat-core: no version range (a wheel would accept any version)"
        ]

    def test_stale_pin(self, tmp_path: Path) -> None:
        assert "excludes the workspace version 1.4.0" in self.make(tmp_path, "chat-core==1.2.0")[0]

    def test_missing_cap(self, tmp_path: Path) -> None:
        assert "no upper bound" in self.make(tmp_path, "chat-core>=1.0")[0]

    def test_good_range(self, tmp_path: Path) -> None:
        assert self.make(tmp_path, "chat-core>=1.4.0,<2") == []


def test_lock_is_in_sync() -> None:
    result = subprocess.run(["uv", "lock", "--check"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
