"""`make check-api`: each library's public API against its last recorded release, with griffe.

Public means: the names listed in `__all__` of a module whose dotted path has no part starting with an
underscore (`chat_core.ports`, not `chat_core._base`), and the non-underscore members of those
classes (dunder methods such as `__init__` included). Breaking, between the release (built from the
manifest's commit) and the working tree:

- griffe's rules: a public object removed (function, class, method, attribute, model field, module),
  a changed kind (function -> attribute ...), a parameter removed, moved, turned keyword-only or
  positional-only, made required, or given another default, a required parameter added, a base class
  removed; this covers the storage-port Protocols (`chat_core.ports`) like any class;
- ours, for pydantic models (a class deriving from `pydantic.BaseModel`, directly or not): a field
  added without a default, a field that had a default and lost it.

A removed name that the module still serves through a module `__getattr__` emitting a
`DeprecationWarning` is a deprecation shim, not a removal. Breaking changes pass when the version is
a major release above the last one, or when `api-allowed-changes.toml` lists them with a reason
(entries apply to one recorded release; an entry that matches nothing is an error). A library with
no recorded release has nothing to be compared with. See RELEASING.md.
"""

from __future__ import annotations

import argparse
import ast
import io
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import griffe
from packaging.utils import canonicalize_name
from packaging.version import Version

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_versions import ROOT, Member, members
from releases import Release, last_release, member_paths_at

__all__ = ["ALLOWED_CHANGES", "Change", "Report", "check", "main"]

ALLOWED_CHANGES = "api-allowed-changes.toml"
PYDANTIC_BASES = {"pydantic.BaseModel", "pydantic.main.BaseModel"}
PARAMETER_KINDS = {
    griffe.BreakageKind.PARAMETER_MOVED,
    griffe.BreakageKind.PARAMETER_REMOVED,
    griffe.BreakageKind.PARAMETER_CHANGED_KIND,
    griffe.BreakageKind.PARAMETER_CHANGED_DEFAULT,
    griffe.BreakageKind.PARAMETER_CHANGED_REQUIRED,
    griffe.BreakageKind.PARAMETER_ADDED_REQUIRED,
}


@dataclass(frozen=True)
class Change:
    """One breaking change of a public API: where, which kind (a slug), and what happened."""

    path: str
    """Dotted path of the object, with the parameter in parentheses: `chat_core.ports.X.list(limit)`."""
    kind: str
    """`object-removed`, `parameter-added-required`, `field-added-required` ... (see RELEASING.md)."""
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.detail} [{self.kind}]"


@dataclass(frozen=True)
class Report:
    """The outcome for one library."""

    name: str
    version: Version
    release: Release | None
    changes: list[Change]
    """Breaking changes not covered by the allowed list."""
    allowed: list[Change]

    @property
    def major(self) -> bool:
        """Whether the version is a major release above the last one (breaking changes allowed)."""
        return self.release is not None and self.version.major > self.release.version.major

    @property
    def ok(self) -> bool:
        """Whether the library passes: no breaking change, or a major release."""
        return self.major or not self.changes

    def lines(self) -> list[str]:
        """What the check prints for this library."""
        if self.release is None:
            return [f"{self.name} {self.version}: never released, nothing to compare"]
        against = f"{self.name} {self.version} against release {self.release.version}"
        lines = [f"{against}: {'no' if not self.changes else len(self.changes)} breaking change(s)"]
        if self.changes and self.major:
            lines[0] += " (a major release: allowed)"
        elif self.changes:
            lines[0] += " without a major version"
        lines += [f"  {change}" for change in self.changes]
        lines += [f"  allowed by {ALLOWED_CHANGES}: {change}" for change in self.allowed]
        if not self.ok:
            lines.append(
                "  -> keep the old API (deprecate first: DeprecationWarning for at least one minor release), "
                f"release a major version, or list the change in {ALLOWED_CHANGES} with a reason"
            )
        return lines


def _value(value: object) -> str:
    return "no default" if value is None else str(value)


def _from_breakage(breakage: griffe.Breakage) -> Change:
    kind = breakage.kind
    slug = kind.name.lower().replace("_", "-")
    detail = kind.value
    path = breakage.obj.path
    if kind in PARAMETER_KINDS:
        parameter = breakage.old_value if breakage.old_value is not None else breakage.new_value
        path = f"{path}({parameter.name})"
    if kind is griffe.BreakageKind.PARAMETER_CHANGED_DEFAULT:
        detail += f": {_value(breakage.old_value.default)} -> {_value(breakage.new_value.default)}"
    elif kind is griffe.BreakageKind.PARAMETER_CHANGED_KIND:
        detail += f": {breakage.old_value.kind.value} -> {breakage.new_value.kind.value}"
    elif kind is griffe.BreakageKind.OBJECT_CHANGED_KIND:
        detail += f": {breakage.old_value.value} -> {breakage.new_value.value}"
    elif breakage.details:
        detail += f" ({breakage.details})"
    return Change(path, slug, detail)


def _public_classes(module: griffe.Module) -> Iterator[tuple[str, griffe.Class]]:
    """(public path, class) for every class a public module exports, submodules included."""
    for name in [str(export) for export in module.exports or []]:
        member = module.members.get(name)
        try:
            target = member.final_target if isinstance(member, griffe.Alias) else member
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            continue  # JUSTIFICATION: an export of a third-party object: not ours to check
        if isinstance(target, griffe.Class):
            yield f"{module.path}.{name}", target
    for name, submodule in module.modules.items():
        if not name.startswith("_") and isinstance(submodule, griffe.Module):
            yield from _public_classes(submodule)


def _public_modules(module: griffe.Module) -> Iterator[griffe.Module]:
    yield module
    for name, submodule in module.modules.items():
        if not name.startswith("_") and isinstance(submodule, griffe.Module):
            yield from _public_modules(submodule)


def _unexported(old: griffe.Module, new: griffe.Module) -> list[Change]:
    """Names dropped from `__all__` while the object stays defined (griffe sees no removal then)."""
    new_modules = {module.path: module for module in _public_modules(new)}
    changes = []
    for old_module in _public_modules(old):
        new_module = new_modules.get(old_module.path)
        if new_module is None:
            continue  # griffe reports the module as removed
        kept = {str(export) for export in new_module.exports or []}
        for name in [str(export) for export in old_module.exports or []]:
            if name not in kept and name in new_module.members:
                changes.append(
                    Change(f"{old_module.path}.{name}", "object-removed", "Public name left __all__")
                )
    return changes


def _is_model(cls: griffe.Class) -> bool:
    if any(str(getattr(base, "canonical_path", base)) in PYDANTIC_BASES for base in cls.bases):
        return True
    return any(isinstance(base, griffe.Class) and _is_model(base) for base in cls.resolved_bases)


def _has_default(field: griffe.Attribute) -> bool:
    """Whether a model field may be left out: it has a value that is not `Field(...)` without a default."""
    if field.value is None:
        return False
    try:
        call = ast.parse(str(field.value), mode="eval").body
    except SyntaxError:
        return True
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name | ast.Attribute)):
        return True
    if ast.unparse(call.func).rpartition(".")[2] != "Field":
        return True
    if call.args:
        return not (isinstance(call.args[0], ast.Constant) and call.args[0].value is Ellipsis)
    return any(keyword.arg in ("default", "default_factory") for keyword in call.keywords)


def _fields(cls: griffe.Class) -> dict[str, griffe.Attribute]:
    fields = {}
    for name, member in cls.all_members.items():
        target = member.final_target if isinstance(member, griffe.Alias) else member
        if name.startswith("_") or name == "model_config" or not isinstance(target, griffe.Attribute):
            continue
        if target.annotation is not None and "ClassVar" not in str(target.annotation):
            fields[name] = target
    return fields


def _model_changes(old: griffe.Module, new: griffe.Module) -> list[Change]:
    changes = []
    new_classes = dict(_public_classes(new))
    for path, old_class in dict(_public_classes(old)).items():
        new_class = new_classes.get(path)
        if new_class is None or not (_is_model(old_class) and _is_model(new_class)):
            continue
        old_fields, new_fields = _fields(old_class), _fields(new_class)
        for name, field in new_fields.items():
            if name not in old_fields and not _has_default(field):
                changes.append(
                    Change(f"{path}.{name}", "field-added-required", "Model field added without a default")
                )
            elif name in old_fields and _has_default(old_fields[name]) and not _has_default(field):
                changes.append(
                    Change(f"{path}.{name}", "field-became-required", "Model field lost its default")
                )
    return changes


def _is_deprecation_shim(change: Change, source: Path) -> bool:
    """Whether a removed module-level name is still served, with a DeprecationWarning, by the new code."""
    module, _, name = change.path.rpartition(".")
    if change.kind != "object-removed" or not module:
        return False
    probe = (
        "import importlib, sys, warnings\n"
        f"module = importlib.import_module({module!r})\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        f"    getattr(module, {name!r})\n"
        "sys.exit(0 if any(issubclass(w.category, DeprecationWarning) for w in caught) else 1)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(source), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def _load_release(root: Path, member: Member, release: Release, scratch: Path) -> griffe.Module:
    folder = member_paths_at(root, release.commit)[member.name]
    archive = subprocess.run(
        ["git", "archive", release.commit, folder], cwd=root, capture_output=True, check=True
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(scratch, filter="data")
    return _load(member.import_name, scratch / folder / "src")


def _load(import_name: str, source: Path) -> griffe.Module:
    loaded = griffe.load(import_name, search_paths=[source], resolve_aliases=True, resolve_external=False)
    assert isinstance(loaded, griffe.Module)
    return loaded


def _allowed_entries(root: Path) -> list[dict[str, str]]:
    path = root / ALLOWED_CHANGES
    if not path.exists():
        return []
    entries: list[dict[str, str]] = tomllib.loads(path.read_text()).get("allowed", [])
    for entry in entries:
        missing = {"package", "release", "object", "kind", "reason"} - {
            k for k, v in entry.items() if str(v).strip()
        }
        if missing:
            raise ValueError(f"{ALLOWED_CHANGES}: an entry lacks {', '.join(sorted(missing))}: {entry}")
    return entries


def check(root: Path, name: str, version: Version | None = None) -> Report:
    """Compare library `name` (at `version`, default its workspace version) with its last release."""
    member = members(root)[canonicalize_name(name)]
    version = version or Version(member.version)
    release = last_release(root, member.name)
    if release is None:
        return Report(member.name, version, None, [], [])
    with tempfile.TemporaryDirectory(prefix="api-release-") as scratch:
        old = _load_release(root, member, release, Path(scratch))
        source = member.path / "src"
        new = _load(member.import_name, source)
        found = [_from_breakage(b) for b in griffe.find_breaking_changes(old, new)]
        found += _unexported(old, new) + _model_changes(old, new)
    found = sorted(
        (change for change in set(found) if not _is_deprecation_shim(change, source)),
        key=lambda change: (change.path, change.kind),
    )
    entries = [
        e for e in _allowed_entries(root)
        if canonicalize_name(e["package"]) == member.name and Version(e["release"]) == release.version
    ]  # fmt: skip
    allowed = [c for c in found if any((e["object"], e["kind"]) == (c.path, c.kind) for e in entries)]
    for entry in entries:
        if not any((entry["object"], entry["kind"]) == (c.path, c.kind) for c in allowed):
            raise ValueError(
                f"{ALLOWED_CHANGES}: no such change of {member.name} since {release.version}: "
                f"{entry['object']} [{entry['kind']}] (remove the entry)"
            )
    return Report(member.name, version, release, [c for c in found if c not in allowed], allowed)


def libraries(root: Path = ROOT) -> list[str]:
    """The members other code imports: everything outside services/."""
    return [m.name for m in members(root).values() if m.path.parent.name != "services"]


def main() -> int:
    """Check the named libraries (default: all); exit 1 when one breaks its API without a major version."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--package", action="append", help="a library (repeatable); default: every library")
    args = parser.parse_args()
    ok = True
    for name in args.package or libraries():
        report = check(ROOT, name)
        print("\n".join(report.lines()), flush=True)
        ok = ok and report.ok
    print("check-api: ok" if ok else "check-api: FAILED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
