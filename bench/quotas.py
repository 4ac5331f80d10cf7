"""Spend-quota benchmark on SQLite: what the quota check adds to a turn, and the admin cost dashboard.

1. The check a turn runs before its model call (resolve the tier from the cached catalogue, read the
   user's overrides, reserve the estimated cost in one transaction), beside the floors it is made of:
   one keyed read and one minimal write transaction of the same database. Target: at most 1 ms.
2. `/admin/costs/dashboard` (the service function the route calls) over `--users` users x `--days`
   days of billed turns (one per user and day; 10,000 x 30 by default), beside one keyed rollup read
   (its floor) and the full scan of the month's cost records that the rollups replace (the peer).

The records are written by the production statements (`chat_storage.local.usage.settlement_statements`)
in one transaction per day, so building the month takes a minute, not hours. Medians of repeated runs;
the machine's load is printed with the results.

    uv run python bench/quotas.py [--users 10000] [--days 30] [--samples 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

# bench/app_api.py, beside this script, would shadow the app_api package.
sys.path = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

from app_api.admin_costs import service as cost_reports  # noqa: E402
from chat_core.costs import CostRecord, PricingSnapshot, TokenUsage, period_of  # noqa: E402
from chat_core.identity import User  # noqa: E402
from chat_core.ids import SessionId, UserId  # noqa: E402
from chat_core.quotas import AssignmentType, QuotaAssignment, QuotaStamp, QuotaTier  # noqa: E402
from chat_core.roles import UserPermissions  # noqa: E402
from chat_http.quotas import QuotaCatalogueCache, resolve_user_quota  # noqa: E402
from chat_storage import LocalStorageConfig, Storage, open_storage  # noqa: E402
from chat_storage.local import DATABASE_FILE  # noqa: E402
from chat_storage.local.usage import settlement_statements  # noqa: E402

MONTH_START = datetime(2026, 11, 1, 12, tzinfo=UTC)
MODELS = ("haiku", "sonnet", "nova")
STAMP = QuotaStamp(tier_id="students", tier_name="Students", monthly_limit=50.0, soft_limit_percentage=80)


async def timed(samples: int, call: Callable[[int], Awaitable[object]]) -> list[float]:
    """Milliseconds of `samples` sequential calls after a short warm-up."""
    for number in range(10):
        await call(-1 - number)
    results = []
    for number in range(samples):
        started = time.perf_counter()
        await call(number)
        results.append((time.perf_counter() - started) * 1000)
    return results


def row(name: str, values: list[float], floor: float | None) -> str:
    median = statistics.median(values)
    p99 = sorted(values)[min(len(values) - 1, int(0.99 * len(values)))]
    ratio = f"{median / floor:.1f}x" if floor else "1.0x (floor)"
    return f"| {name} | {median:.3f} | {p99:.3f} | {ratio} |"


async def quota_check(storage: Storage, samples: int) -> list[str]:
    await storage.quotas.put_tier(
        QuotaTier(tier_id="students", tier_name="Students", monthly_cost_limit=50.0)
    )
    await storage.quotas.put_assignment(
        QuotaAssignment(assignment_id="all", tier_id="students", assignment_type=AssignmentType.DEFAULT_TIER)
    )
    cache = QuotaCatalogueCache(ttl=30)
    user = User(user_id=UserId("bench-user"), email="bench@uni.edu", roles=["Student"])
    permissions = UserPermissions(app_roles=["default"], tools=[], models=[])
    now = datetime.now(UTC)

    async def read(_: int) -> object:
        return await storage.sessions.get(user.user_id, SessionId("s-1"))

    async def write(number: int) -> object:
        return await storage.rate_limits.incr(f"bench-{number}", 60)

    async def check(number: int) -> object:
        resolved = await resolve_user_quota(storage.quotas, cache, user, permissions, at=now)
        limits = resolved.limits
        return await storage.usage.reserve(
            user.user_id,
            f"r-{number}-{uuid.uuid4().hex[:6]}",
            0.000001,
            at=now,
            expires_at=now + timedelta(minutes=15),
            daily_limit=limits.daily,
            monthly_limit=limits.monthly,
        )

    floor_read = await timed(samples, read)
    floor_write = await timed(samples, write)
    checks = await timed(samples, check)
    read_median = statistics.median(floor_read)
    return [
        "| per turn, before the model call | median ms | p99 ms | vs keyed read |",
        "|---|---|---|---|",
        row("floor: one keyed read (`sessions.get`)", floor_read, None),
        row("floor: one minimal write transaction", floor_write, read_median),
        row("**quota check** (resolve + overrides + reserve)", checks, read_median),
    ]


def build_month(data_dir: Path, users: int, days: int) -> float:
    """Bill one turn per user and day with the production statements; seconds it took."""
    started = time.perf_counter()
    connection = sqlite3.connect(data_dir / DATABASE_FILE, isolation_level=None)
    connection.execute("PRAGMA synchronous = NORMAL")
    pricing = PricingSnapshot(input_price_per_mtok=3.0, output_price_per_mtok=15.0)
    for day in range(days):
        at = MONTH_START - timedelta(days=MONTH_START.day - 1) + timedelta(days=day)
        connection.execute("BEGIN IMMEDIATE")
        for number in range(users):
            user_id = f"user-{number:05d}"
            record = CostRecord.for_turn(
                user_id=UserId(user_id),
                session_id=SessionId("s-1"),
                message_id=f"msg-{day}-{number}",
                model_id=MODELS[number % len(MODELS)],
                model_name=MODELS[number % len(MODELS)].title(),
                provider="bedrock",
                usage=TokenUsage(input_tokens=1000 + number % 500, output_tokens=200, total_tokens=1200),
                pricing=pricing,
                timestamp=at,
                quota=STAMP,
            )
            connection.execute(
                "INSERT INTO cost_records (user_id, message_id, period, recorded_at, body) VALUES (?, ?, ?, ?, ?)",
                (
                    user_id,
                    record.message_id,
                    period_of(at),
                    at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    record.model_dump_json(),
                ),
            )
            for statement, params in settlement_statements(record, user_id=user_id, reservation_id=None):
                connection.execute(statement, params)
        connection.execute("COMMIT")
    connection.close()
    return time.perf_counter() - started


async def dashboard(storage: Storage, data_dir: Path, samples: int) -> list[str]:
    period = MONTH_START.strftime("%Y-%m")

    async def floor(_: int) -> object:
        return await storage.usage.rollup(period)

    async def board(_: int) -> object:
        return await cost_reports.dashboard(storage, period=period, top_users_limit=20, include_trends=True)

    def scan() -> None:
        with sqlite3.connect(data_dir / DATABASE_FILE) as connection:
            connection.execute(
                "SELECT user_id, SUM(json_extract(body, '$.cost.totalCost')) AS spent FROM cost_records "
                "WHERE recorded_at >= ? AND recorded_at < ? GROUP BY user_id ORDER BY spent DESC LIMIT 20",
                (f"{period}-01", f"{period}-32"),
            ).fetchall()

    async def peer(_: int) -> object:
        return await asyncio.to_thread(scan)

    floors = await timed(samples, floor)
    boards = await timed(samples, board)
    peers = await timed(max(3, samples // 30), peer)
    floor_median = statistics.median(floors)
    return [
        "| admin cost dashboard | median ms | p99 ms | vs one rollup read |",
        "|---|---|---|---|",
        row("floor: one month rollup read", floors, None),
        row(
            "**`/admin/costs/dashboard`** (summary, top 20, models, tiers, 30-day trend)",
            boards,
            floor_median,
        ),
        row("peer: top 20 by scanning the month's cost records (what rollups avoid)", peers, floor_median),
    ]


async def main(users: int, days: int, samples: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-quotas-") as temporary:
        data_dir = Path(temporary)
        config = LocalStorageConfig(data_dir=data_dir, blob_signing_secret=SecretStr("bench"))
        async with open_storage(config) as storage:
            check_rows = await quota_check(storage, samples)
        built = build_month(data_dir, users, days)
        async with open_storage(config) as storage:
            board_rows = await dashboard(storage, data_dir, max(20, samples // 10))
    load = os.getloadavg()
    print("## Spend quotas on SQLite\n")
    print(
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores; Python {sys.version.split()[0]}\n"
    )
    print("\n".join(check_rows))
    print(f"\n{users:,} users x {days} days = {users * days:,} billed turns, written in {built:.0f} s\n")
    print("\n".join(board_rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--samples", type=int, default=300)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.users, arguments.days, arguments.samples))
