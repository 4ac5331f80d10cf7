"""Internal dependency ranges: present, containing the sibling's version, and a lock in sync."""

import subprocess
import sys
import tomllib
from pathlib import Path

from rules import ROOT

# One checker for `make check-versions` and these tests: scripts/check_versions.py.
sys.path.insert(0, str(ROOT / "scripts"))
from check_versions import members, range_problems


def test_every_internal_dependency_has_a_range_containing_the_sibling() -> None:
    assert range_problems(ROOT) == []


def test_every_member_is_private_and_typed() -> None:
    for member in members(ROOT).values():
        assert "Private :: Do Not Upload" in member.project["classifiers"], member.name
        assert (member.path / "src" / member.import_name / "py.typed").exists(), member.name
        assert (member.path / "CHANGELOG.md").exists(), member.name


def test_build_backend_is_pinned() -> None:
    for member in members(ROOT).values():
        build = tomllib.loads((member.path / "pyproject.toml").read_text())["build-system"]
        assert build["requires"] == ["hatchling==1.33.0"], member.name


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

    def test_no_floor(self, tmp_path: Path) -> None:
        assert "no inclusive lower bound" in self.make(tmp_path, "chat-core<2")[0]

    def test_good_range(self, tmp_path: Path) -> None:
        assert self.make(tmp_path, "chat-core>=1.4.0,<2") == []


def test_lock_is_in_sync() -> None:
    result = subprocess.run(["uv", "lock", "--check"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
