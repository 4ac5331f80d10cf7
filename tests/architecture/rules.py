"""Architecture rules, checked over source trees with the `ast` module (no imports executed).

Used by the tests in this folder, on the real tree and on small bad trees built in a temp dir, so
each rule is shown to fail when broken.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_LIBRARIES = ("chat_core", "chat_storage", "chat_rag", "chat_agent")
EDGE_LIBRARY = "chat_http"
SERVICES = ("app_api", "inference_api")
INTERNAL = (*DOMAIN_LIBRARIES, EDGE_LIBRARY, *SERVICES)

# Which internal packages each may import (DESIGN section 1).
ALLOWED_INTERNAL: dict[str, set[str]] = {
    "chat_core": set(),
    "chat_storage": {"chat_core"},
    "chat_rag": {"chat_core"},
    "chat_agent": {"chat_core"},
    "chat_http": {"chat_core", "chat_storage", "chat_rag", "chat_agent"},
    "app_api": {"chat_core", "chat_storage", "chat_rag", "chat_agent", "chat_http"},
    "inference_api": {"chat_core", "chat_storage", "chat_rag", "chat_agent", "chat_http"},
}
# chat_core is pure: pydantic (and pyjwt in chat_core.auth) besides the standard library, minus its I/O parts.
CORE_THIRD_PARTY = {"pydantic", "pydantic_core", "typing_extensions"}
CORE_AUTH_ONLY = {"jwt"}
CORE_FORBIDDEN_STDLIB = {
    "sqlite3",
    "socket",
    "http",
    "urllib",
    "ssl",
    "subprocess",
    "smtplib",
    "ftplib",
    "asyncio",
}
WEB_FRAMEWORKS = {"fastapi", "starlette", "uvicorn", "sse_starlette"}
JUSTIFICATION = "# JUSTIFICATION:"


@dataclass(frozen=True)
class Violation:
    """One broken rule at one place."""

    path: Path
    line: int
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}"


def source_roots(root: Path = ROOT) -> dict[str, Path]:
    """Import name -> its `src/<name>` directory, for every member."""
    found = {}
    for member in [*root.glob("packages/*/src/*"), *root.glob("services/*/src/*")]:
        if member.is_dir() and (member / "__init__.py").exists():
            found[member.name] = member
    return found


def python_files(directory: Path) -> Iterator[Path]:
    """Every .py file below `directory`, in a stable order."""
    yield from sorted(path for path in directory.rglob("*.py") if "__pycache__" not in path.parts)


def _imported_top_levels(tree: ast.AST) -> Iterator[tuple[str, int]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno


def import_violations(package: str, directory: Path) -> list[Violation]:
    """Imports that break the layering, the library/web split or the purity of chat_core."""
    violations = []
    for path in python_files(directory):
        tree = ast.parse(path.read_text(), filename=str(path))
        for name, line in _imported_top_levels(tree):
            if name == package:
                continue
            if name in INTERNAL and name not in ALLOWED_INTERNAL.get(package, set()):
                violations.append(Violation(path, line, f"{package} must not import {name}"))
            if package in DOMAIN_LIBRARIES and name in WEB_FRAMEWORKS:
                violations.append(Violation(path, line, f"library {package} must not import {name}"))
            if package == "chat_core":
                stdlib = name in sys.stdlib_module_names
                if stdlib and name in CORE_FORBIDDEN_STDLIB:
                    violations.append(
                        Violation(path, line, f"chat_core must not import the I/O module {name}")
                    )
                elif name in CORE_AUTH_ONLY and path.name != "auth.py":
                    violations.append(
                        Violation(path, line, f"chat_core may import {name} only in chat_core.auth")
                    )
                elif not stdlib and name not in CORE_THIRD_PARTY | CORE_AUTH_ONLY | set(INTERNAL):
                    violations.append(Violation(path, line, f"chat_core must not depend on {name}"))
    return violations


def _handler_reraises(handler: ast.ExceptHandler) -> bool:
    stack: list[ast.AST] = list(handler.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Raise):
            return True
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


@dataclass(frozen=True)
class Suppression:
    """An `except` block (or `contextlib.suppress`) that handles an error without re-raising it."""

    path: Path
    line: int
    reason: str | None
    scope: str = "<module>"
    """The enclosing function or class (stable across edits, unlike the line number)."""


def _scopes(tree: ast.AST) -> dict[int, str]:
    """Map every node id to the dotted name of the function or class that contains it."""
    names: dict[int, str] = {}

    def visit(node: ast.AST, scope: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = scope
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                inner = child.name if scope == "<module>" else f"{scope}.{child.name}"
            names[id(child)] = inner
            visit(child, inner)

    visit(tree, "<module>")
    return names


def suppressions(directory: Path) -> list[Suppression]:
    """Every handled-and-not-re-raised error below `directory`, with its justification if any."""
    found = []
    for path in python_files(directory):
        lines = path.read_text().splitlines()

        def reason_at(line: int, lines: list[str] = lines) -> str | None:
            for text in lines[line - 1 : line + 1]:
                if JUSTIFICATION in text:
                    return text.split(JUSTIFICATION, 1)[1].strip()
            return None

        tree = ast.parse("\n".join(lines), filename=str(path))
        scopes = _scopes(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ExceptHandler) and not _handler_reraises(node):
                found.append(Suppression(path, node.lineno, reason_at(node.lineno), scopes[id(node)]))
            elif isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name == "suppress":
                    found.append(Suppression(path, node.lineno, reason_at(node.lineno), scopes[id(node)]))
    return found


def render_error_handling_doc(found: list[Suppression], root: Path = ROOT) -> str:
    """The text of docs/error-handling.md for the justified suppressions in `found`."""
    rows = [
        f"| `{s.path.relative_to(root)}` | `{s.scope}` | {s.reason} |"
        for s in sorted(found, key=lambda s: (str(s.path), s.line))
        if s.reason
    ]
    return "\n".join(
        [
            "# Error handling",
            "",
            "Every failure propagates as a typed `chat_core.errors.ChatError` and reaches clients as the",
            "documented error body (DESIGN section 4). An `except` block must re-raise, unless it guards",
            "optional work and says why in a `# JUSTIFICATION:` comment. This list of every such place is",
            "generated by `make error-doc` and checked by `tests/architecture/test_error_handling.py`, so it",
            "cannot go stale.",
            "",
            "| file | function | why the error is not re-raised |",
            "|---|---|---|",
            *rows,
            "",
        ]
    )


if __name__ == "__main__":
    print(render_error_handling_doc([s for d in source_roots().values() for s in suppressions(d)]), end="")
