"""Secrets the embedded setup generates once and keeps in the data directory.

Both services read the same file, so a development token minted by one is accepted by the other.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

__all__ = ["load_or_create_secret"]


def load_or_create_secret(data_dir: Path, name: str) -> str:
    """Return the secret stored at `data_dir/name`, creating it (mode 0600) if absent.

    The file appears complete or not at all (written aside, then hard-linked into place), so two
    processes starting together agree on one value.
    """
    path = data_dir / name
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=data_dir, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
            try:
                os.link(temp_name, path)
            except FileExistsError:  # JUSTIFICATION: another process won the race; its value is read below.
                pass
        finally:
            os.unlink(temp_name)
    return path.read_text().strip()
