"""The import rules of DESIGN section 1, on the real tree and on a deliberately bad one."""

from pathlib import Path

import pytest
from rules import import_violations, source_roots


def test_every_member_is_checked() -> None:
    assert set(source_roots()) == {
        "chat_core",
        "chat_storage",
        "chat_rag",
        "chat_http",
        "chat_agent",
        "app_api",
        "inference_api",
    }


@pytest.mark.parametrize("package", sorted(source_roots()))
def test_real_tree_follows_the_rules(package: str) -> None:
    violations = import_violations(package, source_roots()[package])
    assert not violations, "\n".join(map(str, violations))


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


class TestRulesCatchViolations:
    """Each rule, broken on purpose in a temporary package, is reported."""

    def test_core_importing_an_io_library(self, tmp_path: Path) -> None:
        write(
            tmp_path / "chat_core" / "bad.py",
            "import sqlite3\nimport aiosqlite\nfrom urllib import request\n",
        )
        rules = [v.rule for v in import_violations("chat_core", tmp_path / "chat_core")]
        assert rules == [
            "chat_core must not import the I/O module sqlite3",
            "chat_core must not depend on aiosqlite",
            "chat_core must not import the I/O module urllib",
        ]

    def test_core_importing_jwt_outside_auth(self, tmp_path: Path) -> None:
        write(tmp_path / "chat_core" / "auth.py", "import jwt\n")
        write(tmp_path / "chat_core" / "other.py", "import jwt\n")
        violations = import_violations("chat_core", tmp_path / "chat_core")
        assert [(v.path.name, v.rule) for v in violations] == [
            ("other.py", "chat_core may import jwt only in chat_core.auth")
        ]

    def test_library_importing_fastapi(self, tmp_path: Path) -> None:
        write(tmp_path / "chat_rag" / "web.py", "from fastapi import FastAPI\n")
        assert [v.rule for v in import_violations("chat_rag", tmp_path / "chat_rag")] == [
            "library chat_rag must not import fastapi"
        ]

    def test_rag_importing_storage(self, tmp_path: Path) -> None:
        write(tmp_path / "chat_rag" / "x.py", "def f():\n    from chat_storage import open_storage\n")
        assert [v.rule for v in import_violations("chat_rag", tmp_path / "chat_rag")] == [
            "chat_rag must not import chat_storage"
        ]

    def test_storage_importing_upwards(self, tmp_path: Path) -> None:
        write(tmp_path / "chat_storage" / "x.py", "import chat_rag.search\nimport app_api\n")
        assert len(import_violations("chat_storage", tmp_path / "chat_storage")) == 2

    def test_service_importing_the_other_service(self, tmp_path: Path) -> None:
        write(tmp_path / "inference_api" / "x.py", "from app_api.sessions import service\n")
        assert [v.rule for v in import_violations("inference_api", tmp_path / "inference_api")] == [
            "inference_api must not import app_api"
        ]

    def test_domain_libraries_importing_the_web_edge(self, tmp_path: Path) -> None:
        write(
            tmp_path / "chat_storage" / "x.py", "from chat_http.errors import ErrorBody\nimport starlette\n"
        )
        assert [v.rule for v in import_violations("chat_storage", tmp_path / "chat_storage")] == [
            "chat_storage must not import chat_http",
            "library chat_storage must not import starlette",
        ]

    def test_the_turn_machinery_stays_below_storage_and_the_web(self, tmp_path: Path) -> None:
        write(tmp_path / "chat_agent" / "x.py", "import chat_storage\nimport fastapi\nimport strands\n")
        assert [v.rule for v in import_violations("chat_agent", tmp_path / "chat_agent")] == [
            "chat_agent must not import chat_storage",
            "library chat_agent must not import fastapi",
        ]

    def test_edge_importing_a_service(self, tmp_path: Path) -> None:
        write(tmp_path / "chat_http" / "x.py", "import fastapi\nfrom app_api.config import Settings\n")
        assert [v.rule for v in import_violations("chat_http", tmp_path / "chat_http")] == [
            "chat_http must not import app_api"
        ]

    def test_allowed_imports_pass(self, tmp_path: Path) -> None:
        write(
            tmp_path / "app_api" / "x.py",
            "import fastapi\nfrom chat_core import errors\nimport chat_storage\nimport chat_rag\nimport chat_http\n",
        )
        assert import_violations("app_api", tmp_path / "app_api") == []
        write(tmp_path / "chat_http" / "y.py", "import starlette\nimport chat_rag\nimport chat_storage\n")
        assert import_violations("chat_http", tmp_path / "chat_http") == []
