"""Helpers of the release tests: a real pypiserver, fresh virtual environments, installed-set readers."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

from packaging.utils import canonicalize_name

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from build_wheels import build_commit
from check_versions import ROOT as ROOT
from check_versions import floors, members
from packaging.version import Version
from releases import load

UV = os.environ.get("UV", "uv")
BIN = Path(sys.executable).parent
SERVICES = [m.name for m in members().values() if m.path.parent.name == "services"]
LIBRARIES = [m.name for m in members().values() if m.path.parent.name == "packages"]
OUR_CHAT_RAG = members()["chat-rag"].version
"""The version an impostor on the public index copies (test_dependency_confusion.py)."""
SERVICE_PROBES = {"app-api": "/health", "inference-api": "/ping"}


@dataclass(frozen=True)
class ServiceEnvs:
    """One service installed from the index (documented recipe) and with the image's steps."""

    index: Path
    image: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without CHAT_* and index settings that would change what gets installed."""
    dropped = ("CHAT_", "UV_INDEX", "UV_EXTRA_INDEX_URL", "UV_DEFAULT_INDEX", "UV_FIND_LINKS", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    return env | extra


def run(command: list[str | Path], *, env: dict[str, str] | None = None, cwd: Path = ROOT) -> str:
    """Run a command; fail with its whole output when it exits non-zero."""
    result = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{command} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> int:
    """Poll `url` until it answers; return the status. Fails when the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback URL built here)
                status: int = response.status
                return status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:  # JUSTIFICATION: not listening yet; the loop retries until the deadline
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


@contextmanager
def background(
    command: list[str | Path], log: Path, *, env: dict[str, str], cwd: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server process for the duration of the block, output to `log`; always stop it."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(c) for c in command], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # JUSTIFICATION: a server that ignores SIGTERM is killed instead
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Index:
    """A running pypiserver: its simple URL and the credentials that may upload (and read)."""

    base_url: str
    packages: Path
    username: str | None = None
    password: str | None = None

    @property
    def simple_url(self) -> str:
        return f"{self.base_url}/simple/"

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for scripts/publish.py and scripts/install-from-index.sh against this index."""
        values = {"CHAT_INDEX_URL": self.simple_url}
        values |= {"CHAT_INDEX_USERNAME": self.username or "", "CHAT_INDEX_PASSWORD": self.password or ""}
        return clean_env(**{k: v for k, v in (values | extra).items() if v})


@dataclass(frozen=True)
class PublicIndex:
    """The stand-in public index and the impostor wheels it holds (version -> wheel)."""

    index: Index
    impostors: dict[str, Path]


@contextmanager
def pypiserver(
    packages: Path, log: Path, *, credentials: tuple[str, str] | None, fallback: bool = False
) -> Iterator[Index]:
    """A pypiserver on a free loopback port. With credentials, uploads and reads need basic auth."""
    packages.mkdir(parents=True, exist_ok=True)
    auth: list[str | Path] = ["-a", ".", "-P", "."]
    if credentials:
        with warnings.catch_warnings():  # passlib imports the deprecated `crypt` module
            warnings.simplefilter("ignore", DeprecationWarning)
            from passlib.apache import HtpasswdFile  # type: ignore[import-untyped]

        htpasswd = packages.parent / f"{packages.name}.htpasswd"
        users = HtpasswdFile(str(htpasswd), new=True)
        users.set_password(*credentials)
        users.save()
        auth = ["-a", "download,list,update", "-P", htpasswd]
    for _ in range(3):  # another process may take the probed port before the server binds it
        port = free_port()
        command: list[str | Path] = [BIN / "pypi-server", "run", "-i", "127.0.0.1", "-p", str(port), *auth]
        # Fallback: unknown names are redirected to the public index this machine uses.
        public = (
            os.environ.get("UV_DEFAULT_INDEX") or os.environ.get("UV_INDEX_URL") or "https://pypi.org/simple/"
        )
        command += ["--fallback-url", public] if fallback else ["--disable-fallback"]
        with background([*command, packages], log, env=clean_env(), cwd=packages.parent) as process:
            url = f"http://127.0.0.1:{port}"
            try:
                assert wait_for(f"{url}/health", process, log, timeout=20) == 200
            except AssertionError:
                if process.poll() is None:
                    raise
                continue
            yield Index(url, packages, *(credentials or (None, None)))
            return
    raise AssertionError(f"pypiserver did not start:\n{log.read_text()[-3000:]}")


@contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """A temporary directory outside pytest's numbered basetemps, removed afterwards.

    For what must outlive minutes of other pytest sessions on the machine: pytest deletes older
    basetemps when sessions start, which pulled a venv (and the PostgreSQL inside it) from under a test.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def site_packages(venv: Path) -> Path:
    (found,) = venv.glob("lib/python3*/site-packages")
    return found


def installed(venv: Path) -> dict[str, str]:
    """Canonical name -> version of every distribution in `venv`."""
    found: dict[str, str] = {}
    for info in site_packages(venv).glob("*.dist-info"):
        metadata = Parser().parsestr((info / "METADATA").read_text())
        found[canonicalize_name(metadata["Name"])] = metadata["Version"]
    return found


def _record(text: str) -> dict[str, str]:
    return {row[0]: row[1] for row in csv.reader(io.StringIO(text)) if row and row[1]}


def wheel_record(wheel: Path) -> dict[str, str]:
    """File -> sha256 of every file a wheel holds, as its RECORD states them."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/RECORD"))
        return _record(archive.read(name).decode())


def installed_record(venv: Path, name: str) -> dict[str, str]:
    """File -> sha256 of the files of an installed distribution (its RECORD), installer files left out."""
    for info in site_packages(venv).glob("*.dist-info"):
        metadata = Parser().parsestr((info / "METADATA").read_text())
        if canonicalize_name(metadata["Name"]) == canonicalize_name(name):
            ignored = ("INSTALLER", "REQUESTED", "direct_url.json", "uv_cache.json", "uv_build.json")
            record = _record((info / "RECORD").read_text())
            # Console scripts (`../../../bin/...`) are written by the installer, not taken from the wheel.
            return {k: v for k, v in record.items() if not k.endswith(ignored) and not k.startswith("../")}
    raise AssertionError(f"{name} is not installed in {venv}")


def installed_from(venv: Path, name: str, wheel: Path) -> bool:
    """Whether the installed `name` is exactly the content of `wheel` (every file's hash matches)."""
    return installed_record(venv, name) == wheel_record(wheel)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_wheel(out_dir: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A minimal valid pure-Python wheel (here: an impostor that takes an internal name)."""
    stem = f"{name.replace('-', '_')}-{version}"
    content = dict(files)
    content[f"{stem}.dist-info/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    content[f"{stem}.dist-info/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    rows = []
    for path, text in content.items():
        digest = hashlib.sha256(text.encode()).digest()
        encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        rows.append(f"{path},sha256={encoded},{len(text.encode())}")
    content[f"{stem}.dist-info/RECORD"] = "\n".join([*rows, f"{stem}.dist-info/RECORD,,"]) + "\n"
    wheel = out_dir / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in content.items():
            archive.writestr(path, text)
    return wheel


def publish_floor(index: Index, name: str, version: str, scratch: Path) -> None:
    """Make `name==version` available on the index: already there, or rebuilt from its recorded release.

    The rebuild from the release's commit must give the wheel and sdist the manifest recorded.
    """
    if any(index.packages.glob(f"{name.replace('-', '_')}-{version}-*.whl")):
        return
    recorded = {release.version: release for release in load(ROOT).get(name, [])}
    release = recorded.get(Version(version))
    if release is None:
        raise AssertionError(
            f"floor {name}=={version} is neither the workspace version nor a recorded release"
        )
    out = scratch / f"{name}-{version}"
    (wheel,) = build_commit(release.commit, out, names=[name])
    (sdist,) = out.glob("*.tar.gz")
    assert (sha256(wheel), sha256(sdist)) == (release.wheel_sha256, release.sdist_sha256), (
        f"{name} {version} rebuilt from {release.commit} differs from the recorded release"
    )
    run([sys.executable, ROOT / "scripts" / "publish.py", "--dist", out], env=index.env())


def floor_groups() -> list[dict[str, str]]:
    """Libraries whose floors agree share one venv: name -> pinned version, libraries and floors alike."""
    groups: list[dict[str, str]] = []
    for library in LIBRARIES:
        pins = {library: members()[library].version, **floors(members()[library])}
        for group in groups:
            if all(group.get(name, version) == version for name, version in pins.items()):
                group.update(pins)
                break
        else:
            groups.append(pins)
    return groups


def install_at_floors(index: Index, pins: dict[str, str], venv: Path, test_tools: Path) -> Path:
    """A fresh venv with the workspace's test tools, and the libraries and floors of `pins` from the index."""
    libraries = [name for name in pins if name in LIBRARIES]
    constraints = venv.parent / f"{venv.name}-floors.txt"
    constraints.write_text("".join(f"{name}=={version}\n" for name, version in pins.items()))
    wanted = []
    for name in libraries:
        extras = ",".join(sorted(members()[name].project.get("optional-dependencies", {})))
        wanted.append(f"{name}[{extras}]=={pins[name]}")
    env = index.env(
        UV_INDEX_INTERNAL_USERNAME=str(index.username), UV_INDEX_INTERNAL_PASSWORD=str(index.password)
    )
    python = venv / "bin" / "python"
    pip: list[str | Path] = [UV, "pip", "install", "--quiet", "--no-config", "--python", python]
    run([UV, "venv", "--quiet", "--no-config", venv], env=env, cwd=venv.parent)
    # The workspace's test tools at their locked versions, then the libraries and floors from the index.
    run([*pip, "--no-deps", "--require-hashes", "-r", test_tools], env=env, cwd=venv.parent)
    run(
        [*pip, "--index", f"internal={index.simple_url}", "-c", constraints, *wanted],
        env=env,
        cwd=venv.parent,
    )
    # From the workspace root: its [[tool.uv.dependency-metadata]] (the model package's declared PyTorch
    # requirement is dropped) applies to the check as it does to the lock.
    run([UV, "pip", "check", "--quiet", "--python", python], env=env, cwd=ROOT)
    return venv
