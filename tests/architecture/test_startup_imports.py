"""What each service loads to start: heavy optional libraries wait until they are first used.

AgentCore Runtime starts a fresh microVM per session, so whatever `inference_api.main` imports is paid
by every new conversation (`bench/footprint.py` measures it beside its floor). A probe in a fresh
interpreter imports `<service>.main`, builds the app with the default settings and reports the modules
loaded at each step; then it uses a knowledge-base name and signs a token, to show that the probe sees
a lazy library arrive once it is needed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

_PROBE = """
import gc, json, sys
from {package}.main import create_app
imported = sorted(sys.modules)
collector = [gc.isenabled(), gc.get_freeze_count()]
create_app()
built = sorted(sys.modules)
from chat_rag import KnowledgeBase
from chat_http.auth import mint_dev_token
mint_dev_token("x" * 32, user_id="u", email="u@example.com")
used = sorted(sys.modules)
print(json.dumps({{"import": imported, "collector": collector, "app": built, "used": used}}))
"""

_LAZY = (
    "numpy",
    "pypdf",
    "docx",
    "usearch",
    "tokenizers",
    "safetensors",
    "psycopg",
    "openai",
    "aioboto3",
    "jwt",
    "cryptography",
    "chat_rag.knowledge_base",
    "chat_storage.local",
    "chat_storage.aws",
    "chat_http._otel",
    "opentelemetry.exporter",
    "opentelemetry.instrumentation.fastapi",
    "opentelemetry.instrumentation.httpx",
    "opentelemetry.instrumentation.botocore",
)
"""Loaded on first use by both services: parsers, NumPy and the embedders and indexes (a knowledge base
opened), the storage backends (the lifespan), other providers' SDKs, PyJWT and cryptography (the first
token verified), OpenTelemetry's exporters and instrumentation (only when `OTEL_*` variables configure
tracing)."""

_LAZY_IN_APP_API = (
    *_LAZY,
    "strands",
    "botocore",
    "chat_agent.turns",
    "chat_agent.models",
    "opentelemetry.sdk",
)
"""app-api also runs turns (strands, with the OpenTelemetry SDK it imports) only for an assistant's test
chat. inference-api imports strands (its floor)."""


def _loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return [name for name in names if any(m == name or m.startswith(name + ".") for m in modules)]


@pytest.fixture(scope="module", params=["app_api", "inference_api"])
def probe(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:
    package: str = request.param
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAT_", "OTEL_"))}
    env["CHAT_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(package=package)],
        env=env,
        cwd=Path(env["CHAT_DATA_DIR"]),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return package, json.loads(done.stdout.splitlines()[-1])


def test_importing_the_app_module_loads_no_optional_library(probe: tuple[str, Any]) -> None:
    package, modules = probe
    lazy = _LAZY_IN_APP_API if package == "app_api" else _LAZY
    assert _loaded(modules["import"], lazy) == []


def test_building_the_app_with_the_defaults_loads_none_either(probe: tuple[str, Any]) -> None:
    package, modules = probe
    lazy = _LAZY_IN_APP_API if package == "app_api" else _LAZY
    assert _loaded(modules["app"], lazy) == []


def test_the_probe_sees_lazy_libraries_once_they_are_used(probe: tuple[str, Any]) -> None:
    _, modules = probe
    assert _loaded(modules["used"], ("numpy", "chat_rag.knowledge_base", "jwt")) == [
        "numpy",
        "chat_rag.knowledge_base",
        "jwt",
    ]


def test_the_import_froze_what_it_built_and_left_the_collector_running(probe: tuple[str, Any]) -> None:
    _, modules = probe
    enabled, frozen = modules["collector"]
    assert enabled
    assert frozen > 50_000  # the service's modules, classes and validators (chat_http.startup)
