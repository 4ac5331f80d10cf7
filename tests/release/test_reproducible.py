"""Reproducible builds: a recorded release rebuilds byte for byte, and an unchanged member keeps its bytes.

This is what lets `make publish` skip an unchanged file and refuse a changed one under a released
version, and what lets the compatibility matrix and the API check trust a rebuilt old release.
"""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest
from build_wheels import build_commit, source_date_epoch, wheels_by_name
from check_versions import changed_since, members
from packaging.version import Version
from release_harness import ROOT, sha256
from releases import Release, load

pytestmark = pytest.mark.slow


def latest_releases() -> dict[str, Release]:
    return {name: releases[-1] for name, releases in load(ROOT).items() if name in members()}


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every member's latest recorded release, rebuilt from its commit (one build per commit)."""
    out: dict[str, Path] = {}
    by_commit: dict[str, list[str]] = {}
    for name, release in latest_releases().items():
        by_commit.setdefault(release.commit, []).append(name)
    for number, (commit, names) in enumerate(sorted(by_commit.items())):
        folder = tmp_path_factory.mktemp(f"rebuilt-{number}")
        build_commit(commit, folder, names=names)
        out |= {name: folder for name in names}
    return out


def test_every_recorded_release_rebuilds_byte_for_byte(rebuilt: dict[str, Path]) -> None:
    assert rebuilt, "releases.toml records no release of a current member"
    for name, release in latest_releases().items():
        wheel = rebuilt[name] / release.wheel
        (sdist,) = rebuilt[name].glob(f"{release.wheel.split('-')[0]}-{release.version}.tar.gz")
        assert sha256(wheel) == release.wheel_sha256, f"{release.wheel} from {release.commit}"
        assert sha256(sdist) == release.sdist_sha256, f"{sdist.name} from {release.commit}"


def test_zip_entries_carry_the_time_of_the_members_last_commit(rebuilt: dict[str, Path]) -> None:
    for name, release in latest_releases().items():
        folder = members()[name].path.relative_to(ROOT).as_posix()
        epoch = source_date_epoch(ROOT, folder, release.commit)
        assert epoch is not None
        expected = time.gmtime(int(epoch) // 2 * 2)[:6]  # zip times have a two-second resolution
        with zipfile.ZipFile(rebuilt[name] / release.wheel) as archive:
            assert {info.date_time for info in archive.infolist()} == {expected}, release.wheel


def test_an_unchanged_released_member_builds_to_its_recorded_wheel(dist: Path) -> None:
    """The session's working-tree build (what `make wheels` makes) of members left alone since their release."""
    unchanged = [
        (name, release)
        for name, release in latest_releases().items()
        if Version(members()[name].version) == release.version
        and not changed_since(ROOT, release.commit, members()[name].path)
    ]
    for name, release in unchanged:
        assert sha256(wheels_by_name(dist)[name]) == release.wheel_sha256, name
