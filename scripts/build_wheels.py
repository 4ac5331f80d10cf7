"""`make wheels`: build every member into dist/ without workspace sources, then smoke-install each wheel.

`--no-sources` builds exactly what a consumer of the index gets (the `tool.uv.sources` table never
reaches a wheel). Builds are reproducible: the build backend is pinned, and each member is built
with `SOURCE_DATE_EPOCH` set to the time of the last commit that touched its folder, so building the
same commit twice, or a later commit that left the member alone, gives byte-identical files
(`build_commit` builds a recorded commit from `git archive`, untouched by the working tree). Each wheel is then installed into its own fresh virtual environment, outside the
workspace, together with the internal wheels it needs (by path, never from an index) and the locked
third-party versions, checked with `uv pip check`, and its module is imported there: a wheel that
misses a module or an internal requirement fails here, not on a deploy host.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_versions import ROOT, members

__all__ = [
    "build",
    "build_commit",
    "lock_requirements",
    "main",
    "run",
    "smoke",
    "source_date_epoch",
    "wheel_closure",
    "wheels_by_name",
]

UV = os.environ.get("UV", "uv")


def source_date_epoch(git_root: Path, folder: str, rev: str = "HEAD") -> str | None:
    """Commit time of the last commit up to `rev` that touched `folder`; None outside a git history."""
    result = subprocess.run(
        ["git", "log", "-1", "--format=%ct", rev, "--", folder],
        cwd=git_root,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or None


def build(
    out_dir: Path,
    *,
    sdists: bool = True,
    names: list[str] | None = None,
    root: Path = ROOT,
    git_root: Path | None = None,
    rev: str = "HEAD",
) -> list[Path]:
    """Build members (default: all) of the workspace at `root` into a cleared `out_dir`; return the wheels.

    `git_root` and `rev` say which history dates each member (default: `root` itself at HEAD).
    """
    projects = members(root)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)

    def build_one(name: str) -> None:
        folder = projects[name].path.relative_to(root).as_posix()
        env = dict(os.environ)
        epoch = source_date_epoch(git_root or root, folder, rev)
        if epoch:
            env["SOURCE_DATE_EPOCH"] = epoch
        command = [UV, "build", "--package", name, "--no-sources", "--quiet", "--out-dir", str(out_dir)]
        run([*command, *([] if sdists else ["--wheel"])], cwd=root, env=env)

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(build_one, names or list(projects)))
    return sorted(out_dir.glob("*.whl"))


def build_commit(
    commit: str, out_dir: Path, *, names: list[str] | None = None, sdists: bool = True
) -> list[Path]:
    """Build members (default: all) as they are in `commit`, from `git archive`, into a cleared `out_dir`."""
    with tempfile.TemporaryDirectory(prefix="build-commit-") as scratch:
        tree = Path(scratch)
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True)
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tree, filter="data")
        return build(out_dir, sdists=sdists, names=names, root=tree, git_root=ROOT, rev=commit)


def wheels_by_name(dist: Path) -> dict[str, Path]:
    """Canonical distribution name -> its wheel in `dist` (one version per name)."""
    found: dict[str, Path] = {}
    for wheel in sorted(dist.glob("*.whl")):
        name = canonicalize_name(parse_wheel_filename(wheel.name)[0])
        if name in found:
            raise ValueError(f"two wheels of {name} in {dist}: {found[name].name}, {wheel.name}")
        found[name] = wheel
    return found


def _requires(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
    return [Requirement(text) for text in metadata.get_all("Requires-Dist") or []]


def wheel_closure(name: str, dist: Path) -> list[Path]:
    """The wheel of `name` and the wheels of every internal distribution its metadata pulls in."""
    wheels = wheels_by_name(dist)
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(canonicalize_name(name), frozenset[str]())]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        wanted, extras = current
        for requirement in _requires(wheels[wanted]):
            dependency = canonicalize_name(requirement.name)
            active = requirement.marker is None or any(
                requirement.marker.evaluate({"extra": extra}) for extra in extras or {""}
            )
            if dependency in wheels and active:
                todo.append((dependency, frozenset(requirement.extras)))
    return sorted({wheels[wanted] for wanted, _ in seen})


def lock_requirements(path: Path, package: str, *, hashes: bool = True) -> Path:
    """Write the lock's third-party pins needed by `package` to `path` (hashed unless told otherwise)."""
    options = ["--no-emit-workspace", "--no-header", "--no-annotate", "--quiet"]
    options += [] if hashes else ["--no-hashes"]
    run([UV, "export", "--frozen", "--no-dev", "--package", package, *options, "--output-file", str(path)])
    return path


def run(command: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    """Run a command; on failure raise with its whole output (so a CI log says why)."""
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} -> exit {result.returncode}\n{result.stdout}{result.stderr}")
    return result.stdout


def _smoke_one(name: str, dist: Path, scratch: Path) -> str:
    member = members()[name]
    has_app = (member.path / "src" / member.import_name / "main.py").exists()
    module = f"{member.import_name}.main" if has_app else member.import_name
    venv = scratch / name
    python = str(venv / "bin" / "python")
    wheels = [str(w) for w in wheel_closure(name, dist)]
    pins = lock_requirements(scratch / f"{name}.txt", name)
    install = [UV, "pip", "install", "--quiet", "--no-config", "--python", python, "--no-deps"]
    run([UV, "venv", "--quiet", str(venv)], scratch)
    run([*install, "--require-hashes", "-r", str(pins)], scratch)
    run([*install, *wheels], scratch)
    # --no-deps above: this is what proves the wheels' Requires-Dist are all satisfied.
    run([UV, "pip", "check", "--quiet", "--python", python], scratch)
    run([python, "-c", f"import {module}"], scratch)
    return f"ok: {name}: {len(wheels)} internal wheel(s) installed, `import {module}` works"


def smoke(dist: Path) -> list[str]:
    """Install each wheel of `dist` into a fresh venv outside the workspace and import it.

    Third-party packages come from the lock (hashed, `--no-deps`), internal ones from `dist` by path:
    no index is involved, so nothing but our wheels can satisfy an internal name.
    """
    names = [name for name in wheels_by_name(dist) if name in members()]
    with tempfile.TemporaryDirectory(prefix="smoke-") as scratch, ThreadPoolExecutor(max_workers=3) as pool:
        return list(pool.map(lambda name: _smoke_one(name, dist, Path(scratch)), names))


def main() -> int:
    """Build into `--out` (default dist/) and smoke-install every wheel."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output directory (cleared)")
    args = parser.parse_args()
    wheels = build(args.out.resolve())
    print(f"built {len(wheels)} wheels (+ sdists) into {args.out}:")
    for wheel in wheels:
        print(f"  {wheel.name}")
    for line in smoke(args.out.resolve()):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
