"""The API-break check (`make check-api`, scripts/check_api.py) on a small library in a git repository.

The library has what chat-core has: pydantic models on an in-package base class, storage-port
Protocols, a private module, re-exports. Its 1.0.0 is recorded in releases.toml; each test changes
the working tree and reads the report.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from check_api import ALLOWED_CHANGES, check
from packaging.version import Version
from test_check_versions import git, release

MODELS = '''\
"""Models."""

from pydantic import BaseModel, Field

from lib_core._base import Base

__all__ = ["Session", "Plain"]


class Session(Base):
    """A session."""

    session_id: str
    title: str = "New"
    tags: list[str] = Field(default_factory=list)
    starred: bool = False


class Plain(BaseModel):
    """Direct pydantic base."""

    name: str
'''
PORTS = '''\
"""Ports."""

from typing import Protocol

from lib_core.models import Session

__all__ = ["SessionRepository"]


class SessionRepository(Protocol):
    """Sessions."""

    async def get(self, user_id: str, session_id: str) -> Session | None:
        """One."""
        ...

    async def list(self, user_id: str, *, limit: int = 50) -> list[Session]:
        """Many."""
        ...
'''
CLOCK = '''\
"""Clock."""

__all__ = ["utc_now", "later"]


def utc_now() -> int:
    """Now."""
    return 1


def later(seconds: int, *, jitter: float = 0.0) -> int:
    """Later."""
    return 1 + seconds


def helper() -> int:
    """Not exported."""
    return 2
'''
SHIM = '''

def __getattr__(name: str) -> object:
    if name == "utc_now":
        import warnings

        warnings.warn("utc_now is deprecated: use now", {category}, stacklevel=2)
        return now
    raise AttributeError(name)


def now() -> int:
    """Now."""
    return 1
'''


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    write(tmp_path / "pyproject.toml", '[tool.uv.workspace]\nmembers = ["packages/*"]\n')
    member = tmp_path / "packages" / "lib-core"
    write(member / "pyproject.toml", '[project]\nname = "lib-core"\nversion = "1.0.0"\n')
    source = member / "src" / "lib_core"
    write(
        source / "__init__.py", '"""Lib."""\n\nfrom lib_core.clock import utc_now\n\n__all__ = ["utc_now"]\n'
    )
    write(
        source / "_base.py",
        '"""Base."""\n\nfrom pydantic import BaseModel\n\n\nclass Base(BaseModel):\n    """B."""\n',
    )
    write(
        source / "_private.py",
        '"""Private."""\n\n__all__ = ["hidden"]\n\n\ndef hidden() -> None:\n    """H."""\n',
    )
    write(source / "models.py", MODELS)
    write(source / "ports.py", PORTS)
    write(source / "clock.py", CLOCK)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "lib-core 1.0.0")
    release(tmp_path, "lib-core", "1.0.0")
    return tmp_path


def edit(repo: Path, module: str, old: str, new: str) -> None:
    path = repo / "packages" / "lib-core" / "src" / "lib_core" / module
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def found(repo: Path, version: str | None = None) -> list[str]:
    report = check(repo, "lib-core", Version(version) if version else None)
    return [f"{change.path} [{change.kind}]" for change in report.changes]


def test_an_unchanged_library_passes(repo: Path) -> None:
    report = check(repo, "lib-core")
    assert report.ok
    assert report.changes == []
    assert report.lines() == ["lib-core 1.0.0 against release 1.0.0: no breaking change(s)"]


def test_a_removed_public_function_is_named_and_fails_without_a_major_version(repo: Path) -> None:
    edit(repo, "clock.py", '__all__ = ["utc_now", "later"]', '__all__ = ["later"]')
    edit(
        repo,
        "__init__.py",
        'from lib_core.clock import utc_now\n\n__all__ = ["utc_now"]',
        "__all__: list[str] = []",
    )
    report = check(repo, "lib-core")
    assert not report.ok
    assert [f"{c.path} [{c.kind}]" for c in report.changes] == [
        "lib_core.clock.utc_now [object-removed]",
        "lib_core.utc_now [object-removed]",
    ]
    assert "without a major version" in report.lines()[0]
    assert check(repo, "lib-core", Version("2.0.0")).ok  # a major release may break
    assert not check(repo, "lib-core", Version("1.1.0")).ok


def test_a_removed_model_field_is_caught(repo: Path) -> None:
    edit(repo, "models.py", "    starred: bool = False\n", "")
    assert found(repo) == ["lib_core.models.Session.starred [object-removed]"]


def test_model_fields_added_or_made_required_without_a_default_are_caught(repo: Path) -> None:
    edit(
        repo,
        "models.py",
        '    title: str = "New"\n',
        "    title: str\n    owner: str\n    pinned: bool = False\n",
    )
    edit(
        repo,
        "models.py",
        "    name: str\n",
        '    name: str\n    alias: str = Field(alias="a")\n    n: int = Field(3)\n',
    )
    assert sorted(found(repo)) == [
        "lib_core.models.Plain.alias [field-added-required]",
        "lib_core.models.Session.owner [field-added-required]",
        "lib_core.models.Session.title [field-became-required]",
    ]


def test_a_changed_protocol_method_is_caught(repo: Path) -> None:
    edit(repo, "ports.py", "*, limit: int = 50)", "*, limit: int = 20, order: str)")
    edit(repo, "ports.py", "user_id: str, session_id: str)", "session_id: str)")
    assert sorted(found(repo)) == [
        "lib_core.ports.SessionRepository.get(session_id) [parameter-moved]",
        "lib_core.ports.SessionRepository.get(user_id) [parameter-removed]",
        "lib_core.ports.SessionRepository.list(limit) [parameter-changed-default]",
        "lib_core.ports.SessionRepository.list(order) [parameter-added-required]",
    ]


def test_signature_changes_of_functions_are_caught(repo: Path) -> None:
    edit(repo, "clock.py", "def later(seconds: int, *, jitter: float = 0.0)", "def later(*, seconds: int)")
    assert sorted(found(repo)) == [
        "lib_core.clock.later(jitter) [parameter-removed]",
        "lib_core.clock.later(seconds) [parameter-changed-kind]",
    ]


def test_additions_and_private_changes_are_not_breaking(repo: Path) -> None:
    edit(repo, "clock.py", "def helper() -> int:", "def helper(x: int) -> int:")  # not in __all__
    edit(repo, "_private.py", "def hidden() -> None:", "def hidden(x: int) -> None:")  # private module
    edit(repo, "clock.py", "*, jitter: float = 0.0)", "*, jitter: float = 0.0, cap: int | None = None)")
    edit(repo, "ports.py", "__all__ = [", '__all__ = ["Extra", ')
    edit(
        repo,
        "ports.py",
        "class SessionRepository",
        "class Extra(Protocol):\n    pass\n\n\nclass SessionRepository",
    )
    assert found(repo) == []


def test_a_deprecation_shim_is_not_a_removal_but_a_silent_one_is(repo: Path) -> None:
    edit(repo, "clock.py", '__all__ = ["utc_now", "later"]', '__all__ = ["now", "later"]')
    edit(repo, "clock.py", 'def utc_now() -> int:\n    """Now."""\n    return 1\n', "")
    edit(
        repo,
        "__init__.py",
        'from lib_core.clock import utc_now\n\n__all__ = ["utc_now"]',
        "__all__: list[str] = []",
    )
    clock = repo / "packages" / "lib-core" / "src" / "lib_core" / "clock.py"
    text = clock.read_text()
    clock.write_text(text + SHIM.format(category="UserWarning"))
    assert "lib_core.clock.utc_now [object-removed]" in found(repo)
    clock.write_text(text + SHIM.format(category="DeprecationWarning"))
    assert found(repo) == ["lib_core.utc_now [object-removed]"]  # the package no longer re-exports it


def test_the_allowed_list_needs_a_reason_and_applies_to_one_release(repo: Path) -> None:
    edit(repo, "models.py", "    starred: bool = False\n", "")
    entry = (
        '[[allowed]]\npackage = "lib-core"\nrelease = "1.0.0"\n'
        'object = "lib_core.models.Session.starred"\nkind = "object-removed"\n'
    )
    allowed = repo / ALLOWED_CHANGES
    allowed.write_text(entry)
    with pytest.raises(ValueError, match="lacks reason"):
        check(repo, "lib-core")
    allowed.write_text(entry + 'reason = "never set by any client; stored sessions keep it"\n')
    report = check(repo, "lib-core")
    assert report.ok
    assert [str(c) for c in report.allowed] == [
        "lib_core.models.Session.starred: Public object was removed [object-removed]"
    ]
    allowed.write_text(entry.replace('"1.0.0"', '"0.9.0"') + 'reason = "an older release"\n')
    assert not check(repo, "lib-core").ok  # entries measured against another release do not apply
    edit(repo, "models.py", "    tags:", "    starred: bool = False\n    tags:")
    allowed.write_text(entry + 'reason = "stale"\n')
    with pytest.raises(ValueError, match=r"no such change of lib-core since 1\.0\.0"):
        check(repo, "lib-core")


def test_a_library_never_released_has_nothing_to_compare(repo: Path) -> None:
    (repo / "releases.toml").unlink()
    edit(repo, "models.py", "    starred: bool = False\n", "")
    report = check(repo, "lib-core")
    assert report.ok
    assert report.lines() == ["lib-core 1.0.0: never released, nothing to compare"]
