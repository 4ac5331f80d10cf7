"""`make demo` end to end: against `make dev`'s services, on the AWS backend, and failing loudly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from e2e_kit import ROOT, Services, clean_env

from chat_storage.aws.testing import start_moto_server

DEMO = [sys.executable, str(ROOT / "scripts" / "demo.py")]


def run_demo(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*DEMO, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False
    )
    print(result.stdout, result.stderr)  # shown by pytest when the test fails
    return result


def assert_complete_walk(output: str) -> None:
    for expected in (
        "[1/11]",
        "offline-extractive",
        "disabled until configured",
        "kestrel-commuter-handbook.md",
        "travel-expense-policy.pdf",
        "2 documents,",
        "Bob sees 'Kestrel and travel helper' (isSharedWithMe: true",
        "about 5 hours",
        "Citations (",
        "(taxi-receipt.txt)",
        "[attached: taxi-receipt.txt]",
        "2 requests",
        "[11/11] Done",
        "Demo complete",
    ):
        assert expected in output, f"{expected!r} is missing from the demo's output"


def test_demo_walks_the_product_against_make_dev(dev_services: Services, tmp_path: Path) -> None:
    env = clean_env(tmp_path, CHAT_DATA_DIR=str(dev_services.data_dir))
    result = run_demo(["--app-url", dev_services.app_url, "--inference-url", dev_services.inference_url], env)
    assert result.returncode == 0, result.stderr
    assert f"Using the running services: {dev_services.app_url}" in result.stdout
    assert "storage: sqlite" in result.stdout
    assert_complete_walk(result.stdout)


def test_demo_fails_with_the_step_that_failed(dev_services: Services, tmp_path: Path) -> None:
    # Another data directory holds another signing secret, so the services refuse the demo's tokens.
    env = clean_env(tmp_path, CHAT_DATA_DIR=str(tmp_path / "other-data"))
    result = run_demo(["--app-url", dev_services.app_url, "--inference-url", dev_services.inference_url], env)
    assert result.returncode == 1
    assert "[1/11]" in result.stdout
    assert "[2/11]" not in result.stdout
    assert "DEMO FAILED" in result.stderr
    assert "401 unauthorized" in result.stderr


def test_demo_refuses_half_a_system(dev_services: Services, tmp_path: Path) -> None:
    env = clean_env(tmp_path, CHAT_DATA_DIR=str(dev_services.data_dir))
    nowhere = "http://127.0.0.1:9"  # the discard port: nothing answers HTTP there
    result = run_demo(["--app-url", dev_services.app_url, "--inference-url", nowhere], env)
    assert result.returncode == 1
    assert f"{dev_services.app_url} answers but {nowhere} does not" in result.stderr


@pytest.fixture
def moto_endpoint() -> Any:
    server = start_moto_server()
    yield server.endpoint
    server.stop()


@pytest.mark.aws
def test_demo_starts_its_own_services_on_the_aws_backend(moto_endpoint: str, tmp_path: Path) -> None:
    """`--start` runs scripts/dev.py itself; with CHAT_STORAGE=aws it provisions moto and runs unchanged."""
    env = clean_env(
        tmp_path, CHAT_STORAGE="aws", CHAT_AWS_ENDPOINT_URL=moto_endpoint, CHAT_RESOURCE_PREFIX="demo"
    )
    result = run_demo(["--start"], env)
    assert result.returncode == 0, result.stderr
    assert "starting both with scripts/dev.py" in result.stdout
    assert "storage: aws" in result.stdout
    assert_complete_walk(result.stdout)
