"""Storage benchmark: the hot session operations, a turn's write, and a turn's history read.

Runs every backend through the public `open_storage` API: `sqlite` in a temporary data directory and
`aws` against a moto server started here on 127.0.0.1 (an in-process HTTP stand-in for DynamoDB and
S3: its numbers measure this code plus moto, not AWS). One user owns `--sessions` sessions (10,000 by
default) so that listing reads the first page of a large partition. Then, side by side in the same
run: a finished turn stored as one atomic write (`turns.record`) against the three writes it replaces
(messages, cost record, session counters), sequentially (alternating) and with 50 turns in flight; and
the history window a turn reads (`messages.recent`, 200 messages) from a 4,000-message session against
a 40-message one, beside paging forward through the whole session (the read it replaces). Prints
Markdown tables with ratios and targets.

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

from chat_core.costs import CostRecord, PricingSnapshot, TokenUsage
from chat_core.ids import SessionId, UserId
from chat_core.messages import MessageDraft
from chat_core.pagination import MAX_PAGE_SIZE
from chat_core.sessions import SessionUpdate
from chat_core.turns import TurnCharge, TurnRecord
from chat_storage import AwsStorageConfig, LocalStorageConfig, Storage, open_storage

USER = UserId("bench-user")
BASE = datetime(2025, 1, 1, tzinfo=UTC)
IN_FLIGHT = 50
TURN_SAMPLES = 200
CONCURRENT_TURNS = 500
HISTORY_WINDOW = 200
HISTORY_SAMPLES = 100
USAGE = TokenUsage(input_tokens=1_200, output_tokens=400, total_tokens=1_600)
PRICING = PricingSnapshot(input_price_per_mtok=3.0, output_price_per_mtok=15.0)
PREFERENCES = {"lastModel": "model-a", "lastTemperature": 0.7, "enabledTools": ["calculator"]}


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


def answer(n: int) -> MessageDraft:
    words = " ".join(f"word{i}" for i in range(120))
    return MessageDraft.model_validate(
        {"role": "assistant", "content": [{"type": "text", "text": f"{n} {words}"}]}
    )


def atomic_turn(storage: Storage, session_id: SessionId, n: int) -> Callable[[], Awaitable[object]]:
    """One finished turn as one atomic write."""
    record = TurnRecord(
        turn_id=f"turn-{session_id}-{n}",
        user_id=USER,
        session_id=session_id,
        user_message=draft(f"question {n}"),
        reply=answer(n),
        at=BASE + timedelta(seconds=n),
        preferences=PREFERENCES,
        charge=TurnCharge("model-a", "Model A", "bedrock", USAGE, PRICING),
    )
    return lambda: storage.turns.record(record)


def three_writes(storage: Storage, session_id: SessionId, n: int) -> Callable[[], Awaitable[object]]:
    """The same turn as the three writes that stored it before: messages, cost, session counters."""

    async def store() -> None:
        stored = await storage.messages.append(USER, session_id, [draft(f"question {n}"), answer(n)])
        await storage.costs.record(
            CostRecord.for_turn(
                user_id=USER,
                session_id=session_id,
                message_id=stored[-1].id,
                model_id="model-a",
                model_name="Model A",
                provider="bedrock",
                usage=USAGE,
                pricing=PRICING,
            )
        )
        await storage.sessions.record_turn(
            USER, session_id, at=BASE + timedelta(seconds=n), preferences=PREFERENCES
        )

    return store


@dataclass
class Comparison:
    backend: str
    measure: str
    before: float
    after: float
    unit: str
    target: str


async def turn_writes(backend: str, storage: Storage) -> list[Comparison]:
    """Sequential latency (alternating) and throughput with 50 turns in flight, both ways."""
    ways = {"three": three_writes, "atomic": atomic_turn}
    timings: dict[str, list[float]] = {"three": [], "atomic": []}
    for n in range(TURN_SAMPLES + 5):
        for way, make in ways.items():
            call = make(storage, SessionId(f"seq-{way}"), n)
            started = time.perf_counter()
            await call()
            if n >= 5:
                timings[way].append((time.perf_counter() - started) * 1000)
    runs: dict[str, list[float]] = {"three": [], "atomic": []}
    for run, way in enumerate(("three", "atomic", "atomic", "three")):  # ABBA: no order bias
        make = ways[way]
        calls = [
            make(storage, SessionId(f"par{run}-{way}-{n % IN_FLIGHT}"), n) for n in range(CONCURRENT_TURNS)
        ]
        started = time.perf_counter()
        await gather_bounded(calls, IN_FLIGHT)
        runs[way].append(CONCURRENT_TURNS / (time.perf_counter() - started))
    rates = {way: statistics.mean(values) for way, values in runs.items()}
    return [
        Comparison(
            backend,
            f"store a turn, median of {TURN_SAMPLES}",
            statistics.median(timings["three"]),
            statistics.median(timings["atomic"]),
            "ms",
            "< 1x",
        ),
        Comparison(
            backend,
            f"turns stored per second, {IN_FLIGHT} in flight over {IN_FLIGHT} sessions (mean of 2 runs)",
            rates["three"],
            rates["atomic"],
            "/s",
            "> 1x",
        ),
    ]


async def page_forward(storage: Storage, session_id: SessionId) -> None:
    """The history read turns made before: every page from the first message, keeping the last 200."""
    cursor: str | None = None
    kept: list[object] = []
    while True:
        page = await storage.messages.list(USER, session_id, limit=MAX_PAGE_SIZE, cursor=cursor)
        kept = [*kept, *page.items][-HISTORY_WINDOW:]
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


async def history_reads(backend: str, storage: Storage) -> list[Comparison]:
    """The window of a 4,000-message session against sessions of one window and of 40 messages."""
    lengths = (40, HISTORY_WINDOW, 4_000)
    for length in lengths:
        session_id = SessionId(f"history-{length}")
        for start in range(0, length, 100):
            drafts = [answer(n) for n in range(start, min(length, start + 100))]
            await storage.messages.append(USER, session_id, drafts)
    medians: dict[tuple[str, int], float] = {}
    reads: dict[str, Callable[[SessionId], Awaitable[object]]] = {
        "recent": lambda sid: storage.messages.recent(USER, sid, limit=HISTORY_WINDOW),
        "forward": lambda sid: page_forward(storage, sid),
    }
    for way, read in reads.items():
        timings: dict[int, list[float]] = {length: [] for length in lengths}
        for n in range(HISTORY_SAMPLES + 3):
            for length in lengths:
                started = time.perf_counter()
                await read(SessionId(f"history-{length}"))
                if n >= 3:
                    timings[length].append((time.perf_counter() - started) * 1000)
        for length in lengths:
            medians[(way, length)] = statistics.median(timings[length])
    return [
        Comparison(
            backend,
            f"history window ({HISTORY_WINDOW}): 4,000-message session vs a {HISTORY_WINDOW}-message one",
            medians[("recent", HISTORY_WINDOW)],
            medians[("recent", 4_000)],
            "ms",
            "<= 1.2x",
        ),
        Comparison(
            backend,
            f"history window ({HISTORY_WINDOW}): 4,000-message session vs a 40-message one "
            f"({HISTORY_WINDOW} messages read vs 40)",
            medians[("recent", 40)],
            medians[("recent", 4_000)],
            "ms",
            "<= 1.2x",
        ),
        Comparison(
            backend,
            "history of a 4,000-message session: paging forward (before) vs newest first",
            medians[("forward", 4_000)],
            medians[("recent", 4_000)],
            "ms",
            "",
        ),
    ]


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
            # moto answers one request at a time: 50 turns in flight queue behind each other far longer
            # than the production timeouts, which are for a hung endpoint, not a busy stand-in. One
            # attempt each: a request retried after its answer timed out would be measured twice (and
            # the three-writes path, which the atomic turn write replaced, is not idempotent).
            connect_timeout=30,
            read_timeout=120,
            max_attempts=1,
            deadline=120,
        )
        await provision(config)
        async with open_storage(config) as storage:
            yield storage
    finally:
        server.stop()


def fmt(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def comparison_table(comparisons: list[Comparison]) -> str:
    lines = [
        "| backend | measure | before / reference | after | ratio | target |",
        "|---|---|---:|---:|---:|---|",
    ]
    lines += [
        f"| {c.backend} | {c.measure} | {c.before:,.2f} {c.unit} | {c.after:,.2f} {c.unit} | "
        f"{c.after / c.before:.2f}x | {c.target} |"
        for c in comparisons
    ]
    return "\n".join(lines)


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
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f} at the start.\n")
    for backend in chosen:  # each backend's tables as soon as it is measured
        async with openers[backend]() as storage:
            rows = await measure(backend, storage, args.sessions, args.samples)
            comparisons = await turn_writes(backend, storage)
            comparisons += await history_reads(backend, storage)
        print(table(rows, args.sessions, args.samples))
        print(
            f"\nA turn's write: three writes (messages, cost record, session counters) against one atomic "
            f"write; a turn's history: {HISTORY_WINDOW}-message window, {HISTORY_SAMPLES} samples each, "
            "alternating.\n"
        )
        print(comparison_table(comparisons))
        print(f"\nload average {os.getloadavg()[0]:.1f} after {backend}.\n", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
