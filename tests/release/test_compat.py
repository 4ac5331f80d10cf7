"""Compatibility matrix: a member's tests against other versions of the internal libraries it allows.

Per service: its tests with every internal library at the floor of the service's range (`floors`),
at the newest version the range allows (`newest`), and each library alone at its floor with the
others free. Per library: its tests with its siblings at their floors. Versions come from the
session's private index: the workspace's wheels, plus older versions rebuilt from their recorded
release commits (checked against the recorded sha256). Each combination is one test whose id names
it, e.g. `app-api[chat-core==1.0.0]`; identical combinations run once.

`make test` runs the fast part: app-api at its floors on a smoke subset of its tests (the newest set is
what the rest of the suite tests; the libraries at their floors are `test_min_versions.py`).
`make release` (CHAT_COMPAT=release) adds app-api at the newest versions it allows: the release's own. `make compat` (CHAT_COMPAT=full) runs every
combination on the member's whole test suite, for CI to run nightly.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from check_versions import members
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from release_harness import (
    LIBRARIES,
    ROOT,
    SERVICES,
    UV,
    Index,
    clean_env,
    installed,
    publish_floor,
    run,
    scratch,
    site_packages,
)
from releases import load

pytestmark = pytest.mark.slow
MODE = os.environ.get("CHAT_COMPAT", "")
FULL = MODE == "full"
FAST_SUBJECT = "app-api"
SMOKE_TESTS = {"app-api": ["tests/test_sessions.py", "tests/test_models.py"]}
PYTEST = ["-m", "pytest", "-q", "-p", "no:cacheprovider"]
FAST_PLUGINS = ["-p", "pytest_asyncio.plugin", "-p", "_hypothesis_pytestplugin", "-p", "anyio.pytest_plugin"]


@dataclass(frozen=True)
class Combination:
    """Whose tests run (`subject`, at its workspace version) with which internal versions pinned."""

    subject: str
    pins: tuple[tuple[str, str], ...]
    what: str

    @property
    def id(self) -> str:
        return f"{self.subject}[{','.join(f'{name}=={version}' for name, version in self.pins)}]"


def available() -> dict[str, list[Version]]:
    """Every version of each member an install can get: its recorded releases and its workspace version."""
    recorded = load(ROOT)
    return {
        name: sorted({Version(member.version), *(r.version for r in recorded.get(name, []))})
        for name, member in members().items()
    }


def _internal_ranges(subject: str) -> dict[str, Requirement]:
    found: dict[str, Requirement] = {}
    for requirement in members()[subject].requirements:
        name = canonicalize_name(requirement.name)
        if name in members():
            found[name] = requirement
    return found


def combinations() -> list[Combination]:
    """The whole matrix, identical pin sets merged (their descriptions joined)."""
    versions = available()
    found: dict[tuple[str, tuple[tuple[str, str], ...]], list[str]] = {}
    for subject in SERVICES + LIBRARIES:
        ranges = _internal_ranges(subject)
        if not ranges:
            continue  # a library on no sibling: nothing to vary
        allowed = {name: [v for v in versions[name] if v in spec.specifier] for name, spec in ranges.items()}
        for name, options in allowed.items():
            if not options:
                raise AssertionError(
                    f"{subject}: no recorded or workspace version of {name} in {ranges[name]}"
                )
        floors = {name: str(options[0]) for name, options in allowed.items()}
        newest = {name: str(options[-1]) for name, options in allowed.items()}
        wanted = [(floors, "floors")]
        if subject in SERVICES:
            wanted.append((newest, "newest"))
            differing = [name for name in floors if floors[name] != newest[name]]
            if len(differing) > 1:  # with one, "it alone at its floor" installs the floors combination
                wanted += [({name: floors[name]}, f"{name} at its floor") for name in differing]
        for pins, what in wanted:
            found.setdefault((subject, tuple(sorted(pins.items()))), []).append(what)
    return [Combination(subject, pins, " = ".join(whats)) for (subject, pins), whats in found.items()]


def selected() -> list[Combination]:
    everything = combinations()
    wanted = ("floors", "newest") if MODE == "release" else ("floors",)
    fast = [c for c in everything if c.subject == FAST_SUBJECT and any(w in c.what for w in wanted)]
    return everything if FULL else fast


def install(index: Index, combination: Combination, venv: Path, test_tools: Path) -> Path:
    """A fresh venv: the locked test tools, then the subject's wheel from the index with the pins."""
    subject = members()[combination.subject]
    constraints = venv.parent / f"{venv.name}-pins.txt"
    constraints.write_text("".join(f"{name}=={version}\n" for name, version in combination.pins))
    extras = ",".join(sorted(subject.project.get("optional-dependencies", {})))
    wanted = (
        f"{subject.name}[{extras}]=={subject.version}" if extras else f"{subject.name}=={subject.version}"
    )
    env = index.env(
        UV_INDEX_INTERNAL_USERNAME=str(index.username), UV_INDEX_INTERNAL_PASSWORD=str(index.password)
    )
    python = venv / "bin" / "python"
    pip: list[str | Path] = [UV, "pip", "install", "--quiet", "--no-config", "--python", python]
    run([UV, "venv", "--quiet", "--no-config", venv], env=env, cwd=venv.parent)
    run([*pip, "--no-deps", "--require-hashes", "-r", test_tools], env=env, cwd=venv.parent)
    run(
        [*pip, "--index", f"internal={index.simple_url}", "-c", constraints, wanted], env=env, cwd=venv.parent
    )
    run([UV, "pip", "check", "--quiet", "--python", python], env=env, cwd=ROOT)
    return venv


def test_the_matrix_covers_every_service_and_library() -> None:
    subjects = {c.subject for c in combinations()}
    assert subjects == set(SERVICES) | {name for name in LIBRARIES if _internal_ranges(name)}
    assert any(c.subject == FAST_SUBJECT and "floors" in c.what for c in combinations())


@pytest.mark.parametrize("combination", selected(), ids=lambda c: c.id)
def test_a_combination_passes_the_subjects_tests(
    combination: Combination, index: Index, test_tools: Path
) -> None:
    with scratch("compat-") as folder:
        for name, version in combination.pins:
            publish_floor(index, name, version, folder)
        run_combination(combination, install(index, combination, folder / "venv", test_tools))


def run_combination(combination: Combination, venv: Path) -> None:
    """The subject's tests (smoke subset, or all with CHAT_COMPAT=full) with the venv's python."""
    versions = installed(venv)
    for name, version in combination.pins:
        assert versions[name] == version, f"{combination.id}: {name} {versions[name]} installed"
    subject = members()[combination.subject]
    for name in set(versions) & set(members()):  # the wheels, never the workspace sources
        assert (site_packages(venv) / members()[name].import_name / "__init__.py").exists()
    tests = [subject.path / "tests"] if FULL else [subject.path / t for t in SMOKE_TESTS[subject.name]]
    # Fast: only the plugins the smoke tests use (autoloading every plugin costs seconds); full: all of them.
    fast = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"} if not FULL else {}
    result = subprocess.run(
        [
            venv / "bin" / "python",
            *PYTEST,
            *([] if FULL else ["-m", "not slow and not aws", *FAST_PLUGINS]),
            *tests,
        ],
        cwd=ROOT,
        env=clean_env(**fast),
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    assert result.returncode == 0, (
        f"{combination.id} ({combination.what}) fails:\n" + result.stdout[-6000:] + result.stderr[-2000:]
    )
    assert " passed" in result.stdout
