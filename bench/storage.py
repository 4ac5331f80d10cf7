"""Storage benchmark: latency of the hot session operations and throughput of concurrent appends.

Runs every backend through the public `open_storage` API: `sqlite` in a temporary data directory and
`aws` against a moto server started here on 127.0.0.1 (an in-process HTTP stand-in for DynamoDB and
S3: its numbers measure this code plus moto, not AWS). One user owns `--sessions` sessions (10,000 by
default) so that listing reads the first page of a large partition. Prints Markdown tables.

    uv run python bench/storage.py [--backend sqlite|aws|both] [--sessions 10000] [--samples 500]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from chat_core.ids import SessionId, UserId
from chat_core.messages import MessageDraft
from chat_core.sessions import SessionUpdate
from chat_storage import AwsStorageConfig, LocalStorageConfig, Storage, open_storage

USER = UserId("bench-user")
BASE = datetime(2025, 1, 1, tzinfo=UTC)
IN_FLIGHT = 50


@dataclass
class Row:
    backend: str
    operation: str
    median_ms: float | None = None
    p99_ms: float | None = None
    per_second: float | None = None


def draft(text: str) -> MessageDraft:
    return MessageDraft.model_validate({"role": "user", "content": [{"type": "text", "text": text}]})


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def gather_bounded(calls: list[Callable[[], Awaitable[object]]], limit: int) -> None:
    semaphore = asyncio.Semaphore(limit)

    async def run(call: Callable[[], Awaitable[object]]) -> None:
        async with semaphore:
            await call()

    await asyncio.gather(*(run(call) for call in calls))


async def latencies(samples: int, call: Callable[[int], Awaitable[object]]) -> list[float]:
    """Milliseconds of `samples` sequential calls (after a few warm-up calls)."""
    for n in range(5):
        await call(n)
    timings = []
    for n in range(samples):
        started = time.perf_counter()
        await call(n)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def append_call(storage: Storage, session_id: SessionId, n: int) -> Callable[[], Awaitable[object]]:
    return lambda: storage.messages.append(USER, session_id, [draft(f"c{n}")])


async def seed(storage: Storage, sessions: int) -> list[SessionId]:
    ids = [SessionId(f"s-{n:06d}") for n in range(sessions)]

    def turn(session_id: SessionId, n: int) -> Callable[[], Awaitable[object]]:
        return lambda: storage.sessions.record_turn(USER, session_id, at=BASE + timedelta(seconds=n))

    await gather_bounded([turn(session_id, n) for n, session_id in enumerate(ids)], 16)
    return ids


async def measure(backend: str, storage: Storage, sessions: int, samples: int) -> list[Row]:
    started = time.perf_counter()
    ids = await seed(storage, sessions)
    print(f"{backend}: seeded {sessions} sessions in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    rng = random.Random(7)
    picks = [rng.choice(ids) for _ in range(samples + 5)]

    rows = []
    timed: dict[str, Callable[[int], Awaitable[object]]] = {
        "session get": lambda n: storage.sessions.get(USER, picks[n]),
        "session put (update)": lambda n: storage.sessions.update(
            USER, picks[n], SessionUpdate(title=f"T{n}")
        ),
        "session list, first page of 50": lambda n: storage.sessions.list(USER, limit=50),
        "message append (1 message)": lambda n: storage.messages.append(USER, picks[n], [draft(f"m{n}")]),
    }
    for operation, call in timed.items():
        values = await latencies(samples, call)
        rows.append(Row(backend, operation, statistics.median(values), percentile(values, 0.99)))

    for label, targets in (("50 sessions", ids[:IN_FLIGHT]), ("one session", ids[-1:])):
        total = 1_000
        calls = [append_call(storage, targets[n % len(targets)], n) for n in range(total)]
        started = time.perf_counter()
        await gather_bounded(calls, IN_FLIGHT)
        elapsed = time.perf_counter() - started
        rows.append(
            Row(backend, f"concurrent appends ({IN_FLIGHT} in flight, {label})", per_second=total / elapsed)
        )
    return rows


@asynccontextmanager
async def sqlite_storage() -> AsyncIterator[Storage]:
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as directory:
        config = LocalStorageConfig(data_dir=Path(directory), blob_signing_secret=SecretStr("bench"))
        async with open_storage(config) as storage:
            yield storage


@asynccontextmanager
async def aws_storage() -> AsyncIterator[Storage]:
    from chat_storage.aws import provision
    from chat_storage.aws.testing import start_moto_server

    # Never let botocore find real credentials or profiles on this machine.
    for name in [name for name in os.environ if name.startswith(("AWS_", "BOTO_"))]:
        del os.environ[name]
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per moto request in the table output
    server = start_moto_server()
    try:
        config = AwsStorageConfig(
            endpoint_url=server.endpoint,
            resource_prefix="bench",
            access_key_id=SecretStr("testing"),
            secret_access_key=SecretStr("testing"),
        )
        await provision(config)
        async with open_storage(config) as storage:
            yield storage
    finally:
        server.stop()


def fmt(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def table(rows: list[Row], sessions: int, samples: int) -> str:
    lines = [
        f"{sessions:,} sessions for one user; {samples} sequential samples per latency row; "
        f"throughput rows are 1,000 appends.",
        "",
        "| backend | operation | median (ms) | p99 (ms) | ops/s |",
        "|---|---|---:|---:|---:|",
    ]
    lines += [
        f"| {row.backend} | {row.operation} | {fmt(row.median_ms, 2)} | {fmt(row.p99_ms, 2)} | "
        f"{fmt(row.per_second, 0)} |"
        for row in rows
    ]
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["sqlite", "aws", "both"], default="both")
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=500)
    args = parser.parse_args()
    openers = {"sqlite": sqlite_storage, "aws": aws_storage}
    chosen = ["sqlite", "aws"] if args.backend == "both" else [args.backend]
    rows: list[Row] = []
    for backend in chosen:
        async with openers[backend]() as storage:
            rows += await measure(backend, storage, args.sessions, args.samples)
    print(table(rows, args.sessions, args.samples))


if __name__ == "__main__":
    asyncio.run(main())
