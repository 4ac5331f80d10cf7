"""The admin quota pages, the admin cost dashboard and the usage display, as the client calls them.

FE = `frontend/ai.client/src/app`. Quota pages: `FE/admin/quota-tiers/services/quota-http.service.ts`
(models in `FE/admin/quota-tiers/models/quota.models.ts`; every list is a bare JSON array). Cost
dashboard: `FE/admin/costs/services/admin-cost-http.service.ts` (`FE/admin/costs/models/admin-cost.models.ts`;
camelCase query names). Usage display: the `quota_warning` and `quota_exceeded` events
(`FE/services/quota/quota-warning.service.ts`, validated by `FE/session/services/chat/stream-parser.service.ts`);
`FE/session/services/chat/chat-http.service.ts` shows any 429 as "Connection Error", so a blocked turn
reaches this client as a stream.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from frontend_kit import (
    BOOLEAN,
    NUMBER,
    STRING,
    FrontendClient,
    UserFactory,
    array,
    check,
    enum,
    obj,
    streamed_text,
    turn_body,
)

from chat_core.costs import CostRecord, PricingSnapshot, TokenUsage
from chat_core.ids import SessionId, UserId
from chat_core.quotas import QuotaStamp
from chat_storage import open_storage

QUOTA_TIER = obj(
    {
        "tierId": STRING,
        "tierName": STRING,
        "monthlyCostLimit": NUMBER,
        "periodType": enum("daily", "monthly"),
        "softLimitPercentage": NUMBER,
        "actionOnLimit": enum("block", "warn"),
        "enabled": BOOLEAN,
        "createdAt": STRING,
        "updatedAt": STRING,
        "createdBy": STRING,
    },
    {"description": STRING, "dailyCostLimit": NUMBER},
)
QUOTA_ASSIGNMENT = obj(
    {
        "assignmentId": STRING,
        "tierId": STRING,
        "assignmentType": enum("direct_user", "app_role", "jwt_role", "email_domain", "default_tier"),
        "priority": NUMBER,
        "enabled": BOOLEAN,
        "createdAt": STRING,
        "updatedAt": STRING,
        "createdBy": STRING,
    },
    {"userId": STRING, "appRoleId": STRING, "jwtRole": STRING, "emailDomain": STRING},
)
QUOTA_OVERRIDE = obj(
    {
        "overrideId": STRING,
        "userId": STRING,
        "overrideType": enum("custom_limit", "unlimited"),
        "validFrom": STRING,
        "validUntil": STRING,
        "reason": STRING,
        "createdBy": STRING,
        "createdAt": STRING,
        "enabled": BOOLEAN,
    },
    {"monthlyCostLimit": NUMBER, "dailyCostLimit": NUMBER},
)
QUOTA_EVENT = obj(
    {
        "eventId": STRING,
        "userId": STRING,
        "tierId": STRING,
        "eventType": enum("warning", "block", "reset", "override_applied"),
        "currentUsage": NUMBER,
        "quotaLimit": NUMBER,
        "percentageUsed": NUMBER,
        "timestamp": STRING,
    },
    {"metadata": {"type": "object"}},
)
USER_QUOTA_INFO = obj(
    {
        "userId": STRING,
        "email": STRING,
        "roles": array(STRING),
        "currentPeriod": STRING,
        "currentUsage": NUMBER,
        "percentageUsed": NUMBER,
        "recentBlocks": NUMBER,
    },
    {
        "tier": QUOTA_TIER,
        "assignment": QUOTA_ASSIGNMENT,
        "override": QUOTA_OVERRIDE,
        "matchedBy": STRING,
        "quotaLimit": NUMBER,
        "remaining": NUMBER,
        "lastBlockTime": STRING,
    },
)
SYSTEM_COST_SUMMARY = obj(
    {
        "period": STRING,
        "periodType": enum("daily", "monthly"),
        "totalCost": NUMBER,
        "totalRequests": NUMBER,
        "activeUsers": NUMBER,
        "totalInputTokens": NUMBER,
        "totalOutputTokens": NUMBER,
        "totalCacheSavings": NUMBER,
        "lastUpdated": STRING,
    },
    {"modelBreakdown": {"type": "object", "additionalProperties": obj({"cost": NUMBER, "requests": NUMBER})}},
)
TOP_USER_COST = obj(
    {"userId": STRING, "totalCost": NUMBER, "totalRequests": NUMBER, "lastUpdated": STRING},
    {"email": STRING, "tierName": STRING, "quotaLimit": NUMBER, "quotaPercentage": NUMBER},
)
MODEL_USAGE_SUMMARY = obj(
    {
        "modelId": STRING,
        "modelName": STRING,
        "provider": STRING,
        "totalCost": NUMBER,
        "totalRequests": NUMBER,
        "uniqueUsers": NUMBER,
        "avgCostPerRequest": NUMBER,
        "totalInputTokens": NUMBER,
        "totalOutputTokens": NUMBER,
    }
)
TIER_USAGE_SUMMARY = obj(
    {
        "tierId": STRING,
        "tierName": STRING,
        "totalCost": NUMBER,
        "totalUsers": NUMBER,
        "usersAtLimit": NUMBER,
        "usersWarned": NUMBER,
        "avgUtilization": NUMBER,
    }
)
COST_TREND = obj({"date": STRING, "totalCost": NUMBER, "totalRequests": NUMBER, "activeUsers": NUMBER})
ADMIN_COST_DASHBOARD = obj(
    {
        "currentPeriod": SYSTEM_COST_SUMMARY,
        "topUsers": array(TOP_USER_COST),
        "modelUsage": array(MODEL_USAGE_SUMMARY),
    },
    {"tierUsage": array(TIER_USAGE_SUMMARY), "dailyTrends": array(COST_TREND)},
)
# FE/services/quota/quota-warning.service.ts: QuotaWarning; the parser checks `type` and the numbers
QUOTA_WARNING = obj(
    {
        "type": {"const": "quota_warning"},
        "warningLevel": STRING,
        "currentUsage": NUMBER,
        "quotaLimit": NUMBER,
        "percentageUsed": NUMBER,
        "remaining": NUMBER,
        "message": STRING,
    }
)


def spend(
    client: FrontendClient, dollars: float, *, at: datetime | None = None, stamp: QuotaStamp | None = None
) -> None:
    """Bill an earlier turn of `client`'s user (as a stored turn would)."""

    async def write() -> None:
        async with open_storage(client.stack.storage) as storage:
            await storage.costs.record(
                CostRecord.for_turn(
                    user_id=UserId(client.user_id),
                    session_id=SessionId("earlier"),
                    message_id=f"msg-earlier-{uuid.uuid4().hex}",
                    model_id="offline-extractive",
                    model_name="Offline extractive",
                    provider="offline",
                    usage=TokenUsage(input_tokens=1_000_000, total_tokens=1_000_000),
                    pricing=PricingSnapshot(input_price_per_mtok=dollars, output_price_per_mtok=0.0),
                    timestamp=at or datetime.now(UTC),
                    quota=stamp,
                )
            )

    asyncio.run(write())


def tier_for(admin: FrontendClient, user: FrontendClient, **fields: Any) -> str:
    """A tier made on the tier form and assigned to `user` on the assignment form; its id."""
    tier_id = f"t-{uuid.uuid4().hex[:8]}"
    body = {
        "tierId": tier_id,
        "tierName": "Students",
        "description": "Undergraduate accounts",
        "monthlyCostLimit": 10,
        "periodType": "monthly",
        "softLimitPercentage": 80,
        "actionOnLimit": "block",
        "enabled": True,
    } | fields
    created = admin.post("/admin/quota/tiers", json=body)
    assert created.status_code in (200, 201), created.text
    assigned = admin.post(
        "/admin/quota/assignments",
        json={
            "tierId": tier_id,
            "assignmentType": "direct_user",
            "priority": 100,
            "enabled": True,
            "userId": user.user_id,
        },
    )
    assert assigned.status_code in (200, 201), assigned.text
    return tier_id


class TestAdminQuotaPages:
    def test_tiers_assignments_overrides_events_and_the_inspector(self, frontend_user: UserFactory) -> None:
        admin, member = frontend_user(admin=True), frontend_user()
        member.get("/users/me").raise_for_status()
        tier_id = tier_for(admin, member)
        tiers = admin.get("/admin/quota/tiers", params={"enabled_only": "false"})
        check(tiers.json(), array(QUOTA_TIER))
        check(admin.get(f"/admin/quota/tiers/{tier_id}").json(), QUOTA_TIER)
        # tier-detail.component.ts (edit): the form values minus tierId, dailyCostLimit left out when empty
        updated = admin.patch(
            f"/admin/quota/tiers/{tier_id}",
            json={
                "tierName": "Students+",
                "description": "",
                "monthlyCostLimit": 12,
                "periodType": "monthly",
                "softLimitPercentage": 75,
                "actionOnLimit": "warn",
                "enabled": True,
            },
        )
        check(updated.json(), QUOTA_TIER)
        assert (updated.json()["softLimitPercentage"], updated.json()["actionOnLimit"]) == (75, "warn")

        assignments = admin.get(
            "/admin/quota/assignments", params={"enabled_only": "false", "tier_id": tier_id}
        )
        check(assignments.json(), array(QUOTA_ASSIGNMENT))
        (assignment,) = assignments.json()
        edited = admin.patch(
            f"/admin/quota/assignments/{assignment['assignmentId']}",
            json={"tierId": tier_id, "priority": 200, "enabled": True},
        )
        check(edited.json(), QUOTA_ASSIGNMENT)

        # override-detail.component.ts: dates from `new Date(input).toISOString()`
        today = datetime.now(UTC).date()
        override = admin.post(
            "/admin/quota/overrides",
            json={
                "userId": member.user_id,
                "overrideType": "unlimited",
                "validFrom": f"{today.isoformat()}T00:00:00.000Z",
                "validUntil": f"{(today + timedelta(days=7)).isoformat()}T00:00:00.000Z",
                "reason": "Thesis deadline",
            },
        )
        check(override.json(), QUOTA_OVERRIDE)
        overrides = admin.get("/admin/quota/overrides", params={"active_only": "false"})
        check(overrides.json(), array(QUOTA_OVERRIDE))
        assert override.json()["overrideId"] in [item["overrideId"] for item in overrides.json()]
        patched = admin.patch(
            f"/admin/quota/overrides/{override.json()['overrideId']}",
            json={
                "validUntil": f"{(today + timedelta(days=3)).isoformat()}T00:00:00.000Z",
                "enabled": True,
                "reason": "Extended",
            },
        )
        check(patched.json(), QUOTA_OVERRIDE)

        events = admin.get("/admin/quota/events", params={"limit": 50, "user_id": member.user_id})
        check(events.json(), array(QUOTA_EVENT))
        assert [event["eventType"] for event in events.json()] == ["override_applied"]
        inspected = admin.get(f"/admin/quota/users/{member.user_id}")
        check(inspected.json(), USER_QUOTA_INFO)
        assert (inspected.json()["matchedBy"], inspected.json()["tier"]["tierId"]) == ("override", tier_id)

        assert admin.delete(f"/admin/quota/overrides/{override.json()['overrideId']}").status_code in (
            200,
            204,
        )
        assert admin.delete(f"/admin/quota/assignments/{assignment['assignmentId']}").status_code in (
            200,
            204,
        )
        assert admin.delete(f"/admin/quota/tiers/{tier_id}").status_code in (200, 204)

    def test_a_non_administrator_gets_the_error_body(self, frontend_user: UserFactory) -> None:
        refused = frontend_user().get("/admin/quota/tiers", params={"enabled_only": "false"})
        assert refused.status_code == 403
        assert isinstance(refused.json()["error"]["message"], str)


class TestAdminCostDashboard:
    def test_the_dashboard_and_its_parts(self, frontend_user: UserFactory) -> None:
        admin, member = frontend_user(admin=True), frontend_user()
        stamp = QuotaStamp(tier_id="fe-students", tier_name="Students", monthly_limit=10.0)
        spend(member, 2.5, stamp=stamp)
        period = datetime.now(UTC).strftime("%Y-%m")
        board = admin.get(
            "/admin/costs/dashboard", params={"period": period, "topUsersLimit": 20, "includeTrends": "true"}
        )
        assert board.status_code == 200, board.text
        check(board.json(), ADMIN_COST_DASHBOARD)
        assert member.user_id in [row["userId"] for row in board.json()["topUsers"]]
        check(
            admin.get("/admin/costs/top-users", params={"period": period, "limit": 10}).json(),
            array(TOP_USER_COST),
        )
        check(
            admin.get(
                "/admin/costs/system-summary", params={"periodType": "monthly", "period": period}
            ).json(),
            SYSTEM_COST_SUMMARY,
        )
        check(
            admin.get("/admin/costs/by-model", params={"period": period}).json(), array(MODEL_USAGE_SUMMARY)
        )
        check(admin.get("/admin/costs/by-tier", params={"period": period}).json(), array(TIER_USAGE_SUMMARY))
        today = datetime.now(UTC).date()
        trends = admin.get(
            "/admin/costs/trends",
            params={"startDate": (today - timedelta(days=6)).isoformat(), "endDate": today.isoformat()},
        )
        check(trends.json(), array(COST_TREND))
        assert len(trends.json()) == 7
        exported = admin.get("/admin/costs/export", params={"format": "csv", "period": period})
        assert exported.status_code == 200
        assert member.user_id in exported.text


# FE/services/quota/quota-warning.service.ts: QuotaExceeded; the parser checks `type` and the numbers
QUOTA_EXCEEDED = obj(
    {
        "type": {"const": "quota_exceeded"},
        "currentUsage": NUMBER,
        "quotaLimit": NUMBER,
        "percentageUsed": NUMBER,
        "periodType": enum("monthly", "daily"),
        "resetInfo": STRING,
        "message": STRING,
    },
    {"tierName": STRING},
)


class TestUsageDisplay:
    def test_a_quota_warning_reaches_the_banner_then_a_block_is_streamed_as_the_reason(
        self, frontend_user: UserFactory
    ) -> None:
        # An override applies to the next turn at once (tiers and assignments reach inference-api
        # within CHAT_QUOTA_CACHE_SECONDS): a $10 monthly limit, blocking, warned from 80 %.
        admin, member = frontend_user(admin=True), frontend_user()
        now = datetime.now(UTC)
        created = admin.post(
            "/admin/quota/overrides",
            json={
                "userId": member.user_id,
                "overrideType": "custom_limit",
                "monthlyCostLimit": 10,
                "validFrom": (now - timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
                "validUntil": (now + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
                "reason": "Course budget",
            },
        )
        assert created.status_code in (200, 201), created.text
        spend(member, 8.5)
        response, events = member.invoke(
            turn_body(str(uuid.uuid4()), "How long does the battery take to charge?")
        )
        assert response.status_code == 200, response.text
        assert events[0].event == "quota_warning"
        check(events[0].data, QUOTA_WARNING)
        assert events[0].data["warningLevel"] == "80%"
        assert events[-1].event == "done"
        spend(member, 2.0)
        # The client's stream: the reason as an assistant message, then the "exceeded" banner's event.
        refused, events = member.invoke(turn_body(str(uuid.uuid4()), "And the range?"))
        assert refused.status_code == 200, refused.text
        assert [event.event for event in events] == [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_stop",
            "quota_exceeded",
            "done",
        ]
        assert events[4].data == {"stopReason": "quota_exceeded"}
        check(events[5].data, QUOTA_EXCEEDED)
        assert events[5].data["quotaLimit"] == 10
        assert "usage limit" in streamed_text(events)
        assert "$" not in streamed_text(events), "the client renders $...$ as TeX math"
        # Any other client: 429 with the error body and Retry-After.
        plain = httpx.post(
            f"{member.stack.inference_url}/invocations",
            json=turn_body(str(uuid.uuid4()), "And the range?"),
            headers={"Authorization": f"Bearer {member.token}"},
            timeout=60,
        )
        assert plain.status_code == 429
        assert plain.json()["error"]["code"] == "quota_exceeded"
        assert int(plain.headers["Retry-After"]) > 0
        status = member.get("/users/me/quota").json()
        assert (status["warningLevel"], status["remaining"], status["hasActiveOverride"]) == (
            "90%",
            0.0,
            True,
        )
