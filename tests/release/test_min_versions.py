"""Each library, installed from the index at the lowest sibling versions its ranges allow, passes its tests.

The floors (`chat-core>=1.0.0,<2` -> `chat-core==1.0.0`) are served by the session's private index:
the current wheels when a floor is the workspace version, otherwise a wheel built from the floor's
release tag (release_harness.publish_floor). Only a few fast unit-test files of each library run
here (FAST_TESTS, seconds each, no servers): the whole suites run against the workspace anyway, and at
the first release the floors are the workspace versions. Add files when floors lag behind.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from check_versions import floors, members
from release_harness import LIBRARIES, ROOT, clean_env, installed, site_packages

pytestmark = pytest.mark.slow
FAST_TESTS = {
    "chat-core": ["tests"],
    "chat-storage": [
        "tests/local/test_schema.py",
        "tests/contract/test_sessions.py",
    ],
    "chat-rag": ["tests/test_chunking.py", "tests/test_parsing.py"],
    "chat-http": ["tests/test_settings.py", "tests/test_edge.py"],
    "chat-agent": ["tests/test_tools.py", "tests/test_streaming_errors.py"],
}
# Plugin autoload would import every pytest plugin of the test tools (seconds per run); load the two in use.
PYTEST = ["-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-m", "not slow and not aws"]
PYTEST += ["-p", "pytest_asyncio.plugin", "-p", "_hypothesis_pytestplugin", "-p", "anyio.pytest_plugin"]


@pytest.mark.parametrize("library", LIBRARIES)
def test_a_library_passes_its_tests_at_its_floors(library: str, floor_envs: dict[str, Path]) -> None:
    """The venvs are made by the `floor_envs` fixture (conftest.py, `install_at_floors`)."""
    venv = floor_envs[library]
    versions = installed(venv)
    for sibling, version in floors(members()[library]).items():
        assert versions[sibling] == version
    for name in {library, *floors(members()[library])}:  # the wheels, not the workspace sources
        assert (site_packages(venv) / members()[name].import_name / "__init__.py").exists()
    tests = [members()[library].path / selection for selection in FAST_TESTS.get(library, ["tests"])]
    result = subprocess.run(
        [venv / "bin" / "python", *PYTEST, *tests],
        cwd=ROOT,
        env=clean_env(PYTEST_DISABLE_PLUGIN_AUTOLOAD="1"),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
