"""Helpers of the end-to-end tests: clean child environments, free ports, Debian's chromium.

Nothing is skipped: when chromium is missing the test setup installs it with apt-get, and when that is
impossible the test fails and says how to install it by hand.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Services:
    """Where the services of one `scripts/dev.py` run answer, and what they keep."""

    app_url: str
    inference_url: str
    data_dir: Path
    log: Path


def clean_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The machine's environment minus its `CHAT_*` and AWS settings, plus `extra`."""
    env = {
        name: value for name, value in os.environ.items() if not name.startswith(("CHAT_", "AWS_", "BOTO_"))
    }
    nowhere = str(tmp / "no-aws-config")
    env |= {
        "AWS_CONFIG_FILE": nowhere,
        "AWS_SHARED_CREDENTIALS_FILE": nowhere,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return env | {"PYTHONUNBUFFERED": "1"} | extra


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


HEADLESS_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Flags that let Chromium run headless here: as root (no sandbox) and without reaching the network."""

_APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
_LOCK_WAIT = ["-o", "DPkg::Lock::Timeout=600"]


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, env=os.environ | _APT_ENV, capture_output=True, text=True, check=False, timeout=1800
    )


def ensure_chromium() -> Path:
    """The path of Debian's chromium, installing the package first when it is missing."""
    found = shutil.which("chromium")
    if found:
        return Path(found)
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            pytest.fail(
                "chromium is missing and this user cannot install it: run `apt-get install chromium` as root"
            )
        prefix = ["sudo", "-n"]
    if shutil.which("apt-get") is None:
        pytest.fail("chromium is missing and there is no apt-get: install Chromium so `chromium` is on PATH")
    for command in (
        [*prefix, "apt-get", *_LOCK_WAIT, "update"],
        [*prefix, "apt-get", *_LOCK_WAIT, "install", "-y", "chromium"],
    ):
        result = _run(command)
        if result.returncode != 0:
            pytest.fail(
                f"Installing Debian's chromium failed ({' '.join(command)} exited {result.returncode}):\n"
                f"{(result.stdout + result.stderr)[-3000:]}\n"
                "Install it by hand with `apt-get update && apt-get install -y chromium`."
            )
    found = shutil.which("chromium")
    if not found:
        pytest.fail("apt-get installed chromium, yet `chromium` is not on PATH")
    return Path(found)
