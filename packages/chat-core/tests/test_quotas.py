from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from chat_core.errors import QuotaExceededError
from chat_core.identity import User
from chat_core.ids import UserId
from chat_core.quotas import (
    AssignmentType,
    LimitAction,
    OverrideType,
    PeriodType,
    PeriodUsage,
    QuotaAssignment,
    QuotaAssignmentCreate,
    QuotaCatalogue,
    QuotaOverride,
    QuotaOverrideCreate,
    QuotaTier,
    QuotaTierCreate,
    QuotaTierUpdate,
    ResolvedQuota,
    UsageSnapshot,
    check_quota,
    estimate_cost,
    next_day,
    next_month,
    quota_exceeded,
    resolve_quota,
    warning_event_id,
)

AT = datetime(2025, 3, 14, 12, tzinfo=UTC)
ALICE = User(user_id=UserId("alice"), email="alice@uni.edu", roles=["Faculty"])


def tier(tier_id: str, **changes: object) -> QuotaTier:
    return QuotaTier.model_validate(
        {"tier_id": tier_id, "tier_name": tier_id, "monthly_cost_limit": 10.0} | changes
    )


def assign(
    number: int, kind: AssignmentType, target: str | None, tier_id: str, priority: int = 100
) -> QuotaAssignment:
    fields = {
        AssignmentType.DIRECT_USER: "user_id",
        AssignmentType.APP_ROLE: "app_role_id",
        AssignmentType.JWT_ROLE: "jwt_role",
        AssignmentType.EMAIL_DOMAIN: "email_domain",
    }
    extra = {fields[kind]: target} if kind in fields else {}
    return QuotaAssignment.model_validate(
        {"assignment_id": f"a-{number}", "tier_id": tier_id, "assignment_type": kind, "priority": priority}
        | extra
    )


TIERS = {name: tier(name) for name in ("user", "role", "named", "jwt", "domain", "default", "off")} | {
    "off": tier("off", enabled=False)
}
EVERY_STEP = [
    assign(1, AssignmentType.DIRECT_USER, "alice", "user"),
    assign(2, AssignmentType.APP_ROLE, "faculty", "role"),
    assign(3, AssignmentType.JWT_ROLE, "Faculty", "jwt"),
    assign(4, AssignmentType.EMAIL_DOMAIN, "uni.edu", "domain"),
    assign(5, AssignmentType.DEFAULT_TIER, None, "default"),
]


def resolve(
    assignments: list[QuotaAssignment],
    overrides: tuple[QuotaOverride, ...] = (),
    *,
    role_tier: str | None = None,
    at: datetime = AT,
) -> ResolvedQuota:
    return resolve_quota(
        ALICE,
        QuotaCatalogue(tiers=TIERS, assignments=assignments),
        overrides,
        app_roles=["faculty", "default"],
        role_tier=role_tier,
        at=at,
    )


def override(**changes: object) -> QuotaOverride:
    values = {
        "override_id": "o-1",
        "user_id": "alice",
        "override_type": OverrideType.CUSTOM_LIMIT,
        "monthly_cost_limit": 50.0,
        "valid_from": AT - timedelta(days=1),
        "valid_until": AT + timedelta(days=1),
        "reason": "grant deadline",
    }
    return QuotaOverride.model_validate(values | changes)


class TestResolution:
    def test_each_step_in_order(self) -> None:
        expected = ["user", "role", "jwt", "domain", "default"]
        matched = ["direct_user", "app_role", "jwt_role", "email_domain", "default_tier"]
        for start in range(len(EVERY_STEP)):
            resolved = resolve(EVERY_STEP[start:])
            assert resolved.tier is not None
            assert (resolved.tier.tier_id, resolved.matched_by) == (expected[start], matched[start])

    def test_the_tier_an_app_role_names_comes_after_app_role_assignments(self) -> None:
        assert resolve(EVERY_STEP[1:], role_tier="named").tier == TIERS["role"]
        resolved = resolve(EVERY_STEP[2:], role_tier="named")
        assert (resolved.tier, resolved.matched_by) == (TIERS["named"], "app_role")

    def test_highest_priority_wins_within_a_step(self) -> None:
        low = assign(6, AssignmentType.JWT_ROLE, "Faculty", "domain", priority=1)
        high = assign(7, AssignmentType.JWT_ROLE, "Faculty", "default", priority=500)
        assert resolve([low, high]).tier == TIERS["default"]

    def test_disabled_assignments_and_tiers_are_skipped(self) -> None:
        disabled = assign(8, AssignmentType.DIRECT_USER, "alice", "user").model_copy(
            update={"enabled": False}
        )
        to_disabled_tier = assign(9, AssignmentType.APP_ROLE, "faculty", "off")
        assert resolve([disabled, to_disabled_tier, *EVERY_STEP[2:]]).tier == TIERS["jwt"]

    def test_other_users_roles_and_domains_do_not_match(self) -> None:
        others = [
            assign(1, AssignmentType.DIRECT_USER, "bob", "user"),
            assign(2, AssignmentType.APP_ROLE, "staff", "role"),
            assign(3, AssignmentType.JWT_ROLE, "Staff", "jwt"),
            assign(4, AssignmentType.EMAIL_DOMAIN, "other.edu", "domain"),
        ]
        resolved = resolve(others)
        assert (resolved.tier, resolved.matched_by) == (None, None)
        assert resolved.limits.unlimited

    def test_an_active_override_replaces_the_limits(self) -> None:
        resolved = resolve(EVERY_STEP, (override(),))
        assert (resolved.matched_by, resolved.tier) == ("override", TIERS["user"])
        assert (resolved.limits.monthly, resolved.limits.daily) == (50.0, None)
        unlimited = resolve(EVERY_STEP, (override(override_type=OverrideType.UNLIMITED),))
        assert unlimited.limits.unlimited

    def test_an_override_applies_only_while_valid_and_enabled(self) -> None:
        expired = override(valid_until=AT)
        assert resolve(EVERY_STEP, (expired,)).matched_by == "direct_user"
        assert resolve(EVERY_STEP, (expired,), at=AT - timedelta(seconds=1)).matched_by == "override"
        assert resolve(EVERY_STEP, (override(enabled=False),)).matched_by == "direct_user"
        assert resolve(EVERY_STEP, (override(user_id="bob"),)).matched_by == "direct_user"

    def test_unlimited_at_999999(self) -> None:
        big = {"user": tier("user", monthly_cost_limit=999_999.0)}
        resolved = resolve_quota(
            ALICE,
            QuotaCatalogue(tiers=big, assignments=EVERY_STEP[:1]),
            [],
            app_roles=[],
            role_tier=None,
            at=AT,
        )
        assert resolved.limits.unlimited


def snapshot(daily: float = 0.0, monthly: float = 0.0, reserved: float = 0.0) -> UsageSnapshot:
    return UsageSnapshot(
        day=date(2025, 3, 14),
        month="2025-03",
        daily=PeriodUsage(daily, reserved),
        monthly=PeriodUsage(monthly, reserved),
    )


def resolved_with(**changes: object) -> ResolvedQuota:
    return resolve_quota(
        ALICE,
        QuotaCatalogue(
            tiers={"t": tier("t", **changes)}, assignments=[assign(1, AssignmentType.DEFAULT_TIER, None, "t")]
        ),
        [],
        app_roles=[],
        role_tier=None,
        at=AT,
    )


class TestCheck:
    def test_below_the_soft_limit_no_warning(self) -> None:
        check = check_quota(resolved_with(), snapshot(monthly=7.9), at=AT)
        assert (check.allowed, check.warning_level) == (True, "none")
        assert check.remaining == pytest.approx(2.1)

    def test_warns_at_the_soft_limit_and_at_90(self) -> None:
        assert check_quota(resolved_with(), snapshot(monthly=8.0), at=AT).warning_level == "80%"
        assert check_quota(resolved_with(), snapshot(monthly=9.0), at=AT).warning_level == "90%"
        assert (
            check_quota(resolved_with(soft_limit_percentage=75), snapshot(monthly=7.6), at=AT).warning_level
            == "75%"
        )

    def test_block_refuses_at_the_limit_counting_reservations(self) -> None:
        assert check_quota(resolved_with(), snapshot(monthly=10.0), at=AT).allowed is False
        assert check_quota(resolved_with(), snapshot(monthly=6.0, reserved=4.0), at=AT).allowed is False
        assert check_quota(resolved_with(), snapshot(monthly=6.0, reserved=3.9), at=AT).allowed is True

    def test_warn_lets_the_turn_through(self) -> None:
        check = check_quota(resolved_with(action_on_limit=LimitAction.WARN), snapshot(monthly=12.0), at=AT)
        assert (check.allowed, check.warning_level) == (True, "90%")

    def test_the_daily_limit_binds_on_the_day(self) -> None:
        resolved = resolved_with(daily_cost_limit=2.0, period_type=PeriodType.DAILY)
        check = check_quota(resolved, snapshot(daily=2.0, monthly=3.0), at=AT)
        assert (check.allowed, check.period_type, check.quota_limit) == (False, PeriodType.DAILY, 2.0)
        assert check.resets_at == datetime(2025, 3, 15, tzinfo=UTC)
        assert (
            check_quota(resolved, snapshot(daily=0.5, monthly=9.99), at=AT).period_type is PeriodType.MONTHLY
        )

    def test_the_429_names_limit_usage_reset_and_retry(self) -> None:
        check = check_quota(resolved_with(), snapshot(monthly=10.5), at=AT)
        error = quota_exceeded(check, at=AT)
        assert isinstance(error, QuotaExceededError)
        assert error.detail["quotaLimit"] == 10.0
        assert error.detail["currentUsage"] == 10.5
        assert error.detail["resetAt"] == "2025-04-01T00:00:00Z"
        assert error.retry_after == int((datetime(2025, 4, 1, tzinfo=UTC) - AT).total_seconds())

    def test_the_warning_event_has_the_original_shape(self) -> None:
        event = check_quota(resolved_with(), snapshot(monthly=8.5), at=AT).warning_event()
        assert set(event) == {
            "type",
            "warningLevel",
            "currentUsage",
            "quotaLimit",
            "percentageUsed",
            "remaining",
            "message",
        }
        assert (event["type"], event["warningLevel"], event["remaining"]) == ("quota_warning", "80%", 1.5)


class TestPeriods:
    def test_month_and_day_boundaries_in_utc(self) -> None:
        assert next_month(datetime(2025, 12, 31, 23, 59, tzinfo=UTC)) == datetime(2026, 1, 1, tzinfo=UTC)
        assert next_day(datetime(2025, 2, 28, 23, 59, tzinfo=UTC)) == datetime(2025, 3, 1, tzinfo=UTC)

    def test_warning_ids_repeat_per_user_period_and_level(self) -> None:
        assert warning_event_id("a", "2025-03", "80%") == warning_event_id("a", "2025-03", "80%")
        assert warning_event_id("a", "2025-03", "80%") != warning_event_id("a", "2025-04", "80%")

    def test_estimate(self) -> None:
        assert (
            estimate_cost(
                prompt_chars=4000, output_tokens=1000, input_price_per_mtok=3, output_price_per_mtok=15
            )
            == 0.018
        )


class TestShapes:
    def test_a_daily_tier_needs_a_daily_limit(self) -> None:
        with pytest.raises(ValidationError, match="dailyCostLimit"):
            QuotaTierCreate.model_validate(
                {"tierId": "t", "tierName": "T", "monthlyCostLimit": 5, "periodType": "daily"}
            )

    def test_updates_refuse_null_except_where_clearing_makes_sense(self) -> None:
        with pytest.raises(ValidationError):
            QuotaTierUpdate.model_validate({"monthlyCostLimit": None})
        assert QuotaTierUpdate.model_validate({"dailyCostLimit": None}).model_fields_set == {
            "daily_cost_limit"
        }

    def test_an_assignment_names_exactly_its_target(self) -> None:
        with pytest.raises(ValidationError, match="user_id is required"):
            QuotaAssignmentCreate.model_validate({"tierId": "t", "assignmentType": "direct_user"})
        with pytest.raises(ValidationError, match="does not apply"):
            QuotaAssignmentCreate.model_validate(
                {"tierId": "t", "assignmentType": "default_tier", "jwtRole": "x"}
            )
        domain = QuotaAssignmentCreate.model_validate(
            {"tierId": "t", "assignmentType": "email_domain", "emailDomain": "@Uni.EDU"}
        )
        assert domain.email_domain == "uni.edu"

    def test_an_override_ends_after_it_starts(self) -> None:
        with pytest.raises(ValidationError, match="validUntil"):
            QuotaOverrideCreate.model_validate(
                {
                    "userId": "a",
                    "overrideType": "unlimited",
                    "validFrom": "2025-01-02T00:00:00Z",
                    "validUntil": "2025-01-01T00:00:00Z",
                    "reason": "x",
                }
            )
