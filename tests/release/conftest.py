"""Session fixtures of the release tests: one build, one private index, each service installed twice.

Everything is real: wheels built by `uv build --no-sources`, a pypiserver on a free loopback port
with basic auth on uploads and reads, the publish script of `make publish`, the documented install
recipe (scripts/install-from-index.sh) and the image's install steps (docker/install-service.sh),
and a second pypiserver standing for a public index where someone uploaded a `chat-rag`.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

# Plain modules beside the tests and the release scripts they exercise (tests use --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_wheels import build
from check_versions import members
from release_harness import (
    LIBRARIES,
    OUR_CHAT_RAG,
    ROOT,
    SERVICES,
    UV,
    Index,
    PublicIndex,
    ServiceEnvs,
    clean_env,
    floor_groups,
    install_at_floors,
    make_wheel,
    publish_floor,
    pypiserver,
    run,
)


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every member's wheel, built once per session exactly as `make wheels` builds them."""
    out = tmp_path_factory.mktemp("dist")
    build(out, sdists=False)
    return out


@pytest.fixture(scope="session")
def index(tmp_path_factory: pytest.TempPathFactory, dist: Path) -> Iterator[Index]:
    """The private index with every wheel published through scripts/publish.py (`make publish`)."""
    folder = tmp_path_factory.mktemp("private-index")
    credentials = ("ci", secrets.token_urlsafe(12))
    with pypiserver(folder / "packages", folder / "pypiserver.log", credentials=credentials) as private:
        run([sys.executable, ROOT / "scripts" / "publish.py", "--dist", dist], env=private.env())
        yield private


@pytest.fixture(scope="session")
def public(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PublicIndex]:
    """The public index as an attacker made it: impostor `chat-rag` wheels, everything else the real one.

    A pypiserver holding `chat-rag` at our workspace version (other content) and 1.99.0 (inside the
    services' ranges), redirecting every other name to the real public index (pypiserver's fallback).
    """
    folder = tmp_path_factory.mktemp("public-index")
    packages = folder / "packages"
    packages.mkdir()
    impostors = {
        version: make_wheel(packages, "chat-rag", version, {"chat_rag/__init__.py": "IMPOSTOR = True\n"})
        for version in (OUR_CHAT_RAG, "1.99.0")
    }
    with pypiserver(packages, folder / "pypiserver.log", credentials=None, fallback=True) as index:
        yield PublicIndex(index, impostors)


@pytest.fixture(scope="session")
def test_tools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workspace's third-party packages (test tools included) at their locked versions, hashed."""
    path = tmp_path_factory.mktemp("test-tools") / "test-tools.txt"
    everything = ["--all-packages", "--all-extras", "--all-groups", "--no-emit-workspace", "--no-header"]
    run([UV, "export", "--frozen", *everything, "--no-annotate", "--quiet", "--output-file", path])
    return path


@pytest.fixture(scope="session")
def installs(
    tmp_path_factory: pytest.TempPathFactory, index: Index, public: PublicIndex, test_tools: Path
) -> Iterator[dict[tuple[str, str], Future[Path]]]:
    """Every fresh venv the release tests need, made in parallel (installs wait on the network).

    Per service: the documented recipe against the private index, with the impostor-holding public
    index as the default index, and the Dockerfile's steps. Per group of libraries whose floors agree:
    the libraries from the index at the floors of their internal ranges, with the test tools.
    """
    folder = tmp_path_factory.mktemp("venvs")
    groups = floor_groups()
    for pins in groups:
        for name, version in pins.items():
            publish_floor(index, name, version, folder)

    def script(path: str, name: str, venv: Path, env: dict[str, str]) -> Path:
        run(["bash", ROOT / path, name, venv], env=env)
        return venv

    recipe_env = index.env(UV_DEFAULT_INDEX=public.index.simple_url)
    with ThreadPoolExecutor(max_workers=4) as pool:
        jobs = {}
        for name in SERVICES:
            jobs["index", name] = pool.submit(
                script, "scripts/install-from-index.sh", name, folder / f"{name}-index", recipe_env
            )
            jobs["image", name] = pool.submit(
                script, "docker/install-service.sh", name, folder / f"{name}-image", clean_env()
            )
        for number, pins in enumerate(groups):
            job = pool.submit(install_at_floors, index, pins, folder / f"floors-{number}", test_tools)
            # A library is tested in the group that holds its workspace version (not where it is a floor).
            jobs.update(
                {
                    ("floors", name): job
                    for name in pins
                    if name in LIBRARIES and pins[name] == members()[name].version
                }
            )
        yield jobs


@pytest.fixture(scope="session")
def service_envs(installs: dict[tuple[str, str], Future[Path]]) -> dict[str, ServiceEnvs]:
    """Each service installed from the index (documented recipe) and with the Dockerfile's steps."""
    return {
        name: ServiceEnvs(installs["index", name].result(), installs["image", name].result())
        for name in SERVICES
    }


@pytest.fixture(scope="session")
def floor_envs(installs: dict[tuple[str, str], Future[Path]]) -> dict[str, Path]:
    """Each library installed from the index at the lowest sibling versions its ranges allow."""
    return {name: installs["floors", name].result() for name in LIBRARIES}
