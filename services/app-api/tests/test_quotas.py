"""`/admin/quota/*`, `/users/me/quota`, `/admin/costs/*` and the write rate limit, on both backends."""

from __future__ import annotations

import asyncio
import csv
import io
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chat_core.costs import CostRecord, PricingSnapshot, TokenUsage
from chat_core.ids import SessionId, UserId
from chat_core.quotas import QuotaStamp
from chat_storage import open_storage

Api = Callable[..., Any]
CheckError = Callable[..., dict[str, Any]]


def bill(
    live: Any,
    user_id: str,
    dollars: float,
    *,
    at: datetime,
    stamp: QuotaStamp | None = None,
    model: str = "haiku",
) -> None:
    """Record a billed turn of `dollars` for `user_id` at `at`, as inference-api would."""

    async def write() -> None:
        async with open_storage(live.storage_config()) as storage:
            await storage.costs.record(
                CostRecord.for_turn(
                    user_id=UserId(user_id),
                    session_id=SessionId("s-1"),
                    message_id=f"msg-{uuid.uuid4().hex}",
                    model_id=model,
                    model_name=model.upper(),
                    provider="bedrock",
                    usage=TokenUsage(input_tokens=1_000_000, output_tokens=10, total_tokens=1_000_010),
                    pricing=PricingSnapshot(input_price_per_mtok=dollars, output_price_per_mtok=0.0),
                    timestamp=at,
                    quota=stamp,
                )
            )

    asyncio.run(write())


class TestTiersAssignmentsOverrides:
    def test_the_admin_pages_round_trip(self, api: Api, check_error: CheckError) -> None:
        admin = api("boss", roles=["admin"])
        member = api("member", roles=["Faculty"])
        member.get("/users/me").raise_for_status()  # the profile exists
        tier_id = f"t-{uuid.uuid4().hex[:8]}"
        body = {
            "tierId": tier_id,
            "tierName": "Faculty",
            "description": "",
            "monthlyCostLimit": 25,
            "periodType": "monthly",
            "softLimitPercentage": 75,
            "actionOnLimit": "block",
            "enabled": True,
        }
        created = admin.post("/admin/quota/tiers", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["createdBy"] == admin.email
        check_error(admin.post("/admin/quota/tiers", json=body), 409, "conflict")
        check_error(
            admin.post("/admin/quota/tiers", json=body | {"tierId": "x-1", "periodType": "daily"}),
            422,
            "validation_error",
        )
        tiers = admin.get("/admin/quota/tiers", params={"enabled_only": "false"}).json()
        assert tier_id in [tier["tierId"] for tier in tiers]
        patched = admin.patch(
            f"/admin/quota/tiers/{tier_id}",
            json={"tierName": "Faculty+", "monthlyCostLimit": 30, "dailyCostLimit": 5},
        ).json()
        assert (patched["tierName"], patched["monthlyCostLimit"], patched["dailyCostLimit"]) == (
            "Faculty+",
            30,
            5,
        )

        assignment = admin.post(
            "/admin/quota/assignments",
            json={
                "tierId": tier_id,
                "assignmentType": "direct_user",
                "priority": 100,
                "enabled": True,
                "userId": member.user_id,
            },
        )
        assert assignment.status_code == 201, assignment.text
        assignment_id = assignment.json()["assignmentId"]
        check_error(
            admin.post("/admin/quota/assignments", json={"tierId": "nope", "assignmentType": "default_tier"}),
            422,
            "validation_error",
        )
        listed = admin.get(
            "/admin/quota/assignments", params={"enabled_only": "false", "tier_id": tier_id}
        ).json()
        assert [item["assignmentId"] for item in listed] == [assignment_id]
        check_error(admin.delete(f"/admin/quota/tiers/{tier_id}"), 409, "conflict")

        inspected = admin.get(f"/admin/quota/users/{member.user_id}").json()
        assert (inspected["tier"]["tierId"], inspected["matchedBy"]) == (tier_id, "direct_user")
        assert (inspected["quotaLimit"], inspected["currentUsage"], inspected["recentBlocks"]) == (30, 0, 0)
        assert inspected["periodType"] == "monthly", "unused, the tier's own period binds"
        mine = member.get("/users/me/quota").json()
        assert (mine["tierId"], mine["monthlyLimit"], mine["dailyLimit"]) == (tier_id, 30, 5)

        now = datetime.now(UTC)
        override = admin.post(
            "/admin/quota/overrides",
            json={
                "userId": member.user_id,
                "overrideType": "custom_limit",
                "validFrom": (now - timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
                "validUntil": (now + timedelta(days=2)).isoformat().replace("+00:00", "Z"),
                "reason": "Grant deadline",
                "monthlyCostLimit": 100,
            },
        )
        assert override.status_code == 201, override.text
        override_id = override.json()["overrideId"]
        active = admin.get(
            "/admin/quota/overrides", params={"active_only": "true", "user_id": member.user_id}
        ).json()
        assert [item["overrideId"] for item in active] == [override_id]
        detail = admin.get(f"/admin/users/{member.user_id}").json()["quotaStatus"]
        assert (detail["hasActiveOverride"], detail["overrideReason"], detail["monthlyLimit"]) == (
            True,
            "Grant deadline",
            100,
        )
        assert detail["matchedBy"] == "override"
        events = admin.get("/admin/quota/events", params={"user_id": member.user_id, "limit": 50}).json()
        assert [event["eventType"] for event in events] == ["override_applied"]
        resets = admin.get("/admin/quota/events", params={"user_id": member.user_id, "event_type": "reset"})
        assert (resets.status_code, resets.json()) == (200, [])  # a filter the client offers, never written
        ended = admin.patch(
            f"/admin/quota/overrides/{override_id}",
            json={"validUntil": (now - timedelta(minutes=1)).isoformat(), "enabled": True, "reason": "Done"},
        ).json()
        assert ended["reason"] == "Done"
        assert member.get("/users/me/quota").json()["hasActiveOverride"] is False
        check_error(
            admin.patch(
                f"/admin/quota/overrides/{override_id}",
                json={"validUntil": (now - timedelta(days=9)).isoformat()},
            ),
            422,
            "validation_error",
        )

        assert admin.delete(f"/admin/quota/overrides/{override_id}").status_code == 204
        assert admin.delete(f"/admin/quota/assignments/{assignment_id}").status_code == 204
        assert admin.delete(f"/admin/quota/tiers/{tier_id}").status_code == 204
        check_error(admin.get(f"/admin/quota/tiers/{tier_id}"), 404, "not_found")
        check_error(admin.get("/admin/quota/tiers/bad%20id"), 422, "validation_error")

    def test_a_user_reads_only_their_own_quota(self, api: Api) -> None:
        mine = api("solo").get("/users/me/quota").json()
        assert set(mine) >= {"tierId", "currentUsage", "usagePercentage", "remaining", "hasActiveOverride"}


class TestCostReports:
    def test_dashboard_and_its_parts_from_the_rollups(
        self, api: Api, live: Any, check_error: CheckError
    ) -> None:
        admin = api("boss", roles=["admin"])
        heavy, light = api("heavy"), api("light")
        heavy.get("/users/me").raise_for_status()
        period = (
            f"20{10 + uuid.uuid4().int % 80:02d}-0{1 + uuid.uuid4().int % 9}"  # a month no other test uses
        )
        first = datetime.fromisoformat(f"{period}-03T10:00:00+00:00")
        stamp = QuotaStamp(
            tier_id="students", tier_name="Students", monthly_limit=10.0, soft_limit_percentage=80
        )
        bill(live, heavy.user_id, 4.0, at=first, stamp=stamp)
        bill(live, heavy.user_id, 5.0, at=first + timedelta(days=1), stamp=stamp, model="sonnet")
        bill(live, light.user_id, 1.0, at=first + timedelta(days=1), stamp=stamp)

        board = admin.get(
            "/admin/costs/dashboard", params={"period": period, "topUsersLimit": 20, "includeTrends": "true"}
        ).json()
        summary = board["currentPeriod"]
        assert (summary["period"], summary["periodType"], summary["totalCost"]) == (period, "monthly", 10.0)
        assert (summary["totalRequests"], summary["activeUsers"]) == (3, 2)
        assert summary["modelBreakdown"] == {
            "haiku": {"cost": 5.0, "requests": 2},
            "sonnet": {"cost": 5.0, "requests": 1},
        }
        top = board["topUsers"]
        assert [(row["userId"], row["totalCost"]) for row in top] == [
            (heavy.user_id, 9.0),
            (light.user_id, 1.0),
        ]
        assert (top[0]["email"], top[0]["tierName"], top[0]["quotaLimit"], top[0]["quotaPercentage"]) == (
            heavy.email,
            "Students",
            10.0,
            90.0,
        )
        haiku = next(model for model in board["modelUsage"] if model["modelId"] == "haiku")
        assert (haiku["uniqueUsers"], haiku["avgCostPerRequest"]) == (2, 2.5)
        (tier,) = board["tierUsage"]
        assert (tier["tierId"], tier["totalUsers"], tier["usersWarned"], tier["usersAtLimit"]) == (
            "students",
            2,
            1,
            0,
        )
        assert tier["avgUtilization"] == 50.0
        trend = {point["date"]: point for point in board["dailyTrends"]}
        assert trend[f"{period}-03"]["totalCost"] == 4.0
        assert (trend[f"{period}-04"]["totalCost"], trend[f"{period}-04"]["activeUsers"]) == (6.0, 2)
        assert trend[f"{period}-05"]["totalCost"] == 0

        daily = admin.get(
            "/admin/costs/system-summary", params={"periodType": "daily", "period": f"{period}-04"}
        ).json()
        assert (daily["totalCost"], daily["activeUsers"]) == (6.0, 2)
        assert [
            row["userId"]
            for row in admin.get("/admin/costs/top-users", params={"period": period, "minCost": 2}).json()
        ] == [heavy.user_id]
        assert admin.get("/admin/costs/by-model", params={"period": period}).json()[0]["totalCost"] == 5.0
        assert (
            admin.get("/admin/costs/by-tier", params={"period": period}).json()[0]["tierName"] == "Students"
        )
        trends = admin.get(
            "/admin/costs/trends", params={"startDate": f"{period}-03", "endDate": f"{period}-04"}
        ).json()
        assert [(point["date"], point["totalCost"]) for point in trends] == [
            (f"{period}-03", 4.0),
            (f"{period}-04", 6.0),
        ]
        check_error(
            admin.get("/admin/costs/trends", params={"startDate": "2026-01-01", "endDate": "2026-06-01"}),
            422,
            "validation_error",
        )
        check_error(
            admin.get("/admin/costs/dashboard", params={"period": "2026-13"}), 422, "validation_error"
        )

        exported = admin.get("/admin/costs/export", params={"format": "csv", "period": period})
        assert exported.headers["content-type"].startswith("text/csv")
        assert f"cost_report_{period}.csv" in exported.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(exported.text)))
        assert rows[0][:3] == ["User ID", "Email", "Total Cost ($)"]
        assert [row[0] for row in rows[1:]] == [heavy.user_id, light.user_id]
        as_json = admin.get("/admin/costs/export", params={"format": "json", "period": period}).json()
        assert [row["userId"] for row in as_json] == [heavy.user_id, light.user_id]

    def test_a_huge_min_cost_is_a_422_naming_the_field(self, api: Api, check_error: CheckError) -> None:
        """Beyond what a limit can be (a huge value overflowed the index bound: a 500 before)."""
        admin = api("boss", roles=["admin"])
        for huge in ("1e30", "1000000"):
            refused = check_error(
                admin.get("/admin/costs/top-users", params={"minCost": huge}), 422, "validation_error"
            )
            assert refused["field"] == "query.minCost", refused
        at_the_bound = admin.get("/admin/costs/top-users", params={"minCost": 999_999})
        assert at_the_bound.status_code == 200, at_the_bound.text
        assert at_the_bound.json() == []


class TestWriteRateLimit:
    def test_writes_are_limited_per_user_reads_are_free(
        self,
        request: pytest.FixtureRequest,
        start_app: Callable[..., Any],
        settings_for: Callable[..., Any],
        aws_settings_for: Callable[..., Any],
        tmp_path: Path,
        live: Any,
        api: Api,
        check_error: CheckError,
    ) -> None:
        """On the backend of the case: the counters live in that storage (DynamoDB on aws)."""
        settings = (
            settings_for(tmp_path / "limited", rate_limit_writes="2/minute")
            if live.backend == "sqlite"
            else aws_settings_for(
                tmp_path / "limited", request.getfixturevalue("moto_endpoint"), rate_limit_writes="2/minute"
            )
        )
        assert settings.storage == live.backend
        with start_app(settings) as limited:
            wait_clear_of_a_window_boundary()
            alice = api("alice", base_url=limited.base_url)
            for _ in range(3):
                alice.get("/sessions").raise_for_status()
            first = alice.put("/sessions/s-1/metadata", json={"title": "One"})
            assert first.headers["RateLimit-Limit"] == "2"
            assert first.headers["RateLimit-Remaining"] == "1"
            alice.put("/sessions/s-1/metadata", json={"title": "Two"}).raise_for_status()
            refused = alice.put("/sessions/s-1/metadata", json={"title": "Three"})
            error = check_error(refused, 429, "rate_limit_exceeded")
            assert error["detail"]["limit"] == 2
            assert refused.headers["RateLimit-Remaining"] == "0"
            assert 0 < int(refused.headers["Retry-After"]) <= 60
            assert 0 < int(refused.headers["RateLimit-Reset"]) <= 60
            assert alice.get("/sessions/s-1/metadata").json()["title"] == "Two"
            api("bob", base_url=limited.base_url).put(
                "/sessions/s-1/metadata", json={"title": "Mine"}
            ).raise_for_status()


class TestResolutionSteps:
    def test_each_step_in_order_as_the_inspector_shows_it(self, api: Api) -> None:
        """override -> user -> AppRole -> JWT role -> email domain -> default, removed one at a time."""
        admin = api("boss", roles=["admin"])
        member = api("member", roles=["Faculty"])
        member.get("/users/me").raise_for_status()
        suffix = uuid.uuid4().hex[:8]
        jwt_role, domain = f"Role{suffix}", f"d{suffix}.edu"
        app_role = f"q_{suffix}"
        created_role = admin.post(
            "/admin/roles/",
            json={"roleId": app_role, "displayName": "Quota test", "jwtRoleMappings": [jwt_role]},
        )
        assert created_role.status_code == 201, created_role.text
        made: list[str] = []
        tiers = []
        for step in ("user", "role", "jwt", "domain", "default"):
            tier_id = f"{step}-{suffix}"
            created = admin.post(
                "/admin/quota/tiers", json={"tierId": tier_id, "tierName": step, "monthlyCostLimit": 10}
            )
            assert created.status_code == 201, created.text
            tiers.append(tier_id)
        targets = [
            {"assignmentType": "direct_user", "userId": member.user_id},
            {"assignmentType": "app_role", "appRoleId": app_role},
            {"assignmentType": "jwt_role", "jwtRole": jwt_role},
            {"assignmentType": "email_domain", "emailDomain": domain},
            {"assignmentType": "default_tier"},
        ]
        try:
            for tier_id, target in zip(tiers, targets, strict=True):
                response = admin.post("/admin/quota/assignments", json={"tierId": tier_id} | target)
                assert response.status_code == 201, response.text
                made.append(response.json()["assignmentId"])
            now = datetime.now(UTC)
            override = admin.post(
                "/admin/quota/overrides",
                json={
                    "userId": member.user_id,
                    "overrideType": "unlimited",
                    "validFrom": (now - timedelta(minutes=5)).isoformat(),
                    "validUntil": (now + timedelta(hours=1)).isoformat(),
                    "reason": "step one",
                },
            ).json()

            def inspect() -> tuple[str | None, str | None]:
                found = admin.get(
                    f"/admin/quota/users/{member.user_id}",
                    params={"email": f"m@{domain}", "roles": f"{jwt_role},Other"},
                ).json()
                return found["matchedBy"], (found["tier"] or {}).get("tierId")

            assert inspect() == ("override", tiers[0])
            admin.delete(f"/admin/quota/overrides/{override['overrideId']}").raise_for_status()
            expected = ["direct_user", "app_role", "jwt_role", "email_domain", "default_tier"]
            for index, assignment_id in enumerate(made):
                assert inspect() == (expected[index], tiers[index])
                admin.delete(f"/admin/quota/assignments/{assignment_id}").raise_for_status()
            assert inspect() == (None, None)
        finally:
            for assignment_id in made:
                admin.delete(f"/admin/quota/assignments/{assignment_id}")
            admin.delete(f"/admin/roles/{app_role}")


def wait_clear_of_a_window_boundary(window: float = 60.0, margin: float = 10.0) -> None:
    """Sleep past the next window start when it is near: counts across it are approximate."""
    into = time.time() % window
    if into > window - margin:
        time.sleep(window - into + 0.05)
