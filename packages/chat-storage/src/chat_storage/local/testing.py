"""An outage of the local database for tests: another process holding it (`hold_database`).

In WAL mode readers never wait for a writer, so a writer that merely holds its lock blocks writes
only. A process interrupted in the middle of publishing a commit blocks everyone: it holds the WAL's
write and recovery locks and the two copies of the WAL index header differ, so every connection must
recover the index, cannot take the locks to do it, waits `busy_timeout` and fails with
`SQLITE_BUSY_RECOVERY` (an `UnavailableError`). `hold_database` runs such a process (real file locks
from another process, as SQLite takes them) and, on exit, restores the header before releasing the
locks, so the database is left exactly as it was.
"""

from __future__ import annotations

import fcntl
import os
import selectors
import subprocess  # nosec B404 - runs this module only
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chat_storage.local import DATABASE_FILE

__all__ = ["hold_database"]

_LOCKS = 120
"""Where the WAL index's lock bytes start in the `-shm` file (after two headers and the checkpoint
counters); the write lock is the first byte and the recovery lock the third."""
_WRITE_LOCK, _RECOVER_LOCK = _LOCKS, _LOCKS + 2
_CHANGE_COUNTER = 8
"""A byte of the first copy of the index header (its change counter)."""


@contextmanager
def hold_database(data_dir: Path, *, timeout: float = 20) -> Iterator[None]:
    """Inside the block another process holds the database of `data_dir` (already open, in WAL mode).

    Every read and write of every connection then fails as unavailable after its busy timeout.
    """
    shm = data_dir / f"{DATABASE_FILE}-shm"
    if not shm.exists():
        raise FileNotFoundError(f"{shm} does not exist: open the storage before holding it")
    process = subprocess.Popen(  # noqa: S603  # nosec B603 - this module, by the current interpreter
        [sys.executable, "-m", "chat_storage.local.testing", str(shm)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        with selectors.DefaultSelector() as waiting:
            waiting.register(process.stdout, selectors.EVENT_READ)
            if not waiting.select(timeout) or process.stdout.readline().strip() != "held":
                raise RuntimeError(f"the holding process did not take the locks (exit {process.poll()})")
        yield
    finally:
        process.stdin.close()  # the holder restores the header, then exits and so releases the locks
        process.wait(timeout=timeout)
        process.stdout.close()
    if process.returncode != 0:
        raise RuntimeError(f"the holding process failed (exit {process.returncode})")


def _hold(shm: str) -> None:
    """The other process: take the locks, tear the header, wait for stdin to close, restore."""
    descriptor = os.open(shm, os.O_RDWR)
    for offset in (_WRITE_LOCK, _RECOVER_LOCK):
        fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset, os.SEEK_SET)
    original = os.pread(descriptor, 1, _CHANGE_COUNTER)
    os.pwrite(descriptor, bytes([original[0] ^ 0xFF]), _CHANGE_COUNTER)
    print("held", flush=True)
    sys.stdin.read()
    os.pwrite(descriptor, original, _CHANGE_COUNTER)
    os.close(descriptor)


if __name__ == "__main__":
    _hold(sys.argv[1])
