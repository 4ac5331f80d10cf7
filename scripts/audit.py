"""`make lint`: pip-audit over the locked third-party set; a machine without network only warns."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

_OFFLINE_MARKERS = (
    "ConnectionError",
    "Max retries exceeded",
    "Name or service not known",
    "Temporary failure",
)


def main() -> int:
    """Export the lock (hashed, no workspace members) and audit it."""
    with tempfile.TemporaryDirectory() as temp:
        requirements = Path(temp) / "requirements.txt"
        subprocess.run(
            [
                "uv",
                "export",
                "--frozen",
                "--all-packages",
                "--all-extras",
                "--no-emit-workspace",
                "-o",
                str(requirements),
            ],
            check=True,
            capture_output=True,
        )
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip_audit",
                "--disable-pip",
                "--no-deps",
                "-r",
                str(requirements),
                "--progress-spinner",
                "off",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    output = (result.stdout + result.stderr).strip()
    unaudited = output.count("could not be audited")
    if unaudited:
        print(f"pip-audit: {unaudited} packages could not be looked up (vulnerability service unreachable?)")
    vulnerable = "known vulnerabilit" in output and "No known vulnerabilities" not in output
    if result.returncode != 0 and not vulnerable and any(marker in output for marker in _OFFLINE_MARKERS):
        print("pip-audit skipped: the vulnerability service could not be reached (offline).")
        return 0
    print(output.splitlines()[-1] if output else "pip-audit: no output")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
