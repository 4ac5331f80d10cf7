"""Spend quotas: tiers, who gets which, and whether a turn may run.

A `QuotaTier` sets a monthly limit (USD), optionally a daily one, the soft-limit percentage at which
users are warned and what happens at the limit (`block` or `warn`). Tiers reach users through
`QuotaAssignment`s (by user, AppRole, JWT role, email domain, or the default) and are replaced for a
while by a `QuotaOverride`. `resolve_quota` is the one resolution rule:

    override -> direct user -> AppRole -> JWT role -> email domain -> default tier

Every configured limit is enforced on its own UTC period: the monthly limit on the calendar month,
the daily limit on the calendar day (the original compared a daily period nobody wrote, so daily
limits never applied). `period_type` names the period the tier is reported in. Limits of 999999 USD
or more are unlimited. Usage is what storage counted atomically with each turn's cost, plus what
running turns have reserved (see `QuotaCheck`). Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any, Self, TypeVar

from pydantic import BaseModel, Field, StringConstraints, ValidationError, model_validator

from chat_core._base import CamelModel
from chat_core.clock import utc_now
from chat_core.errors import InvalidInputError, QuotaExceededError
from chat_core.fields import NOT_NULL, omittable
from chat_core.identity import User, email_domain

__all__ = [
    "UNLIMITED_USD",
    "AssignmentType",
    "LimitAction",
    "OverrideType",
    "PeriodType",
    "PeriodUsage",
    "QuotaAssignment",
    "QuotaAssignmentCreate",
    "QuotaAssignmentUpdate",
    "QuotaCatalogue",
    "QuotaCheck",
    "QuotaEvent",
    "QuotaEventType",
    "QuotaLimits",
    "QuotaOverride",
    "QuotaOverrideCreate",
    "QuotaOverrideUpdate",
    "QuotaStamp",
    "QuotaTier",
    "QuotaTierCreate",
    "QuotaTierUpdate",
    "ResolvedQuota",
    "UsageSnapshot",
    "check_quota",
    "day_of",
    "estimate_cost",
    "month_of",
    "next_day",
    "next_month",
    "quota_exceeded",
    "resolve_quota",
    "warning_event_id",
]

UNLIMITED_USD = 999_999.0
"""A limit at or above this is no limit (as in the original)."""
TIER_ID_PATTERN = r"^[a-z0-9_-]{1,64}$"
_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_Usd = Annotated[float, Field(gt=0, allow_inf_nan=False)]


M = TypeVar("M", bound=BaseModel)


def _revalidated(cls: type[M], values: dict[str, Any]) -> M:
    """`cls` from changed values; a change that breaks a rule is a 422 naming the field."""
    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise InvalidInputError(f"The change is not valid: {first['msg']}.", field=field) from exc


class PeriodType(StrEnum):
    """The period a tier is reported in."""

    DAILY = "daily"
    MONTHLY = "monthly"


class LimitAction(StrEnum):
    """What happens when a limit is reached."""

    BLOCK = "block"
    WARN = "warn"


class AssignmentType(StrEnum):
    """How an assignment selects users (in resolution order)."""

    DIRECT_USER = "direct_user"
    APP_ROLE = "app_role"
    JWT_ROLE = "jwt_role"
    EMAIL_DOMAIN = "email_domain"
    DEFAULT_TIER = "default_tier"


class OverrideType(StrEnum):
    """A temporary limit of its own, or none at all."""

    CUSTOM_LIMIT = "custom_limit"
    UNLIMITED = "unlimited"


class QuotaEventType(StrEnum):
    """What the quota system records for administrators."""

    WARNING = "warning"
    BLOCK = "block"
    RESET = "reset"
    OVERRIDE_APPLIED = "override_applied"


# ---------------------------------------------------------------------------------------------------
# Tiers


class _TierFields(CamelModel):
    tier_name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    monthly_cost_limit: _Usd
    daily_cost_limit: _Usd | None = None
    period_type: PeriodType = PeriodType.MONTHLY
    soft_limit_percentage: float = Field(default=80.0, ge=0, le=100)
    action_on_limit: LimitAction = LimitAction.BLOCK
    enabled: bool = True

    @model_validator(mode="after")
    def _daily_needs_limit(self) -> Self:
        if self.period_type is PeriodType.DAILY and self.daily_cost_limit is None:
            raise ValueError("dailyCostLimit is required when periodType is daily")
        return self


class QuotaTierCreate(_TierFields):
    """What an administrator sends to add a tier."""

    tier_id: str = Field(pattern=TIER_ID_PATTERN)


class QuotaTierUpdate(CamelModel):
    """A partial change; `null` clears only the daily limit and the description."""

    tier_name: Annotated[str | None, NOT_NULL] = omittable(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    monthly_cost_limit: Annotated[float | None, NOT_NULL] = omittable(gt=0, allow_inf_nan=False)
    daily_cost_limit: _Usd | None = None
    period_type: Annotated[PeriodType | None, NOT_NULL] = omittable()
    soft_limit_percentage: Annotated[float | None, NOT_NULL] = omittable(ge=0, le=100)
    action_on_limit: Annotated[LimitAction | None, NOT_NULL] = omittable()
    enabled: Annotated[bool | None, NOT_NULL] = omittable()


class QuotaTier(QuotaTierCreate):
    """A stored tier."""

    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    created_by: str = "system"

    def updated(self, changes: QuotaTierUpdate) -> QuotaTier:
        """A copy with `changes` applied (validated again)."""
        merged = self.model_dump() | changes.model_dump(exclude_unset=True) | {"updated_at": utc_now()}
        return _revalidated(QuotaTier, merged)


# ---------------------------------------------------------------------------------------------------
# Assignments

_TARGET_FIELD: dict[AssignmentType, str | None] = {
    AssignmentType.DIRECT_USER: "user_id",
    AssignmentType.APP_ROLE: "app_role_id",
    AssignmentType.JWT_ROLE: "jwt_role",
    AssignmentType.EMAIL_DOMAIN: "email_domain",
    AssignmentType.DEFAULT_TIER: None,
}


class QuotaAssignmentCreate(CamelModel):
    """Puts the users one criterion selects into a tier; exactly the criterion's field is set."""

    tier_id: str = Field(pattern=TIER_ID_PATTERN)
    assignment_type: AssignmentType
    user_id: _Text | None = None
    app_role_id: _Text | None = None
    jwt_role: _Text | None = None
    email_domain: _Text | None = None
    priority: int = Field(default=100, ge=0, le=100_000)
    """Among assignments of the same step, the highest priority wins."""
    enabled: bool = True

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        wanted = _TARGET_FIELD[self.assignment_type]
        for name in ("user_id", "app_role_id", "jwt_role", "email_domain"):
            value = getattr(self, name)
            if name == wanted and value is None:
                raise ValueError(f"{name} is required for assignmentType {self.assignment_type.value}")
            if name != wanted and value is not None:
                raise ValueError(f"{name} does not apply to assignmentType {self.assignment_type.value}")
        if self.email_domain is not None:
            self.email_domain = self.email_domain.lower().lstrip("@")
        return self

    @property
    def target(self) -> str | None:
        """The user id, role or domain this assignment selects (`None` for the default tier)."""
        wanted = _TARGET_FIELD[self.assignment_type]
        return None if wanted is None else getattr(self, wanted)


class QuotaAssignmentUpdate(CamelModel):
    """A partial change: the tier, the priority, whether it applies."""

    tier_id: Annotated[str | None, NOT_NULL] = omittable(pattern=TIER_ID_PATTERN)
    priority: Annotated[int | None, NOT_NULL] = omittable(ge=0, le=100_000)
    enabled: Annotated[bool | None, NOT_NULL] = omittable()


class QuotaAssignment(QuotaAssignmentCreate):
    """A stored assignment."""

    assignment_id: str
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    created_by: str = "system"

    def updated(self, changes: QuotaAssignmentUpdate) -> QuotaAssignment:
        """A copy with `changes` applied."""
        merged = self.model_dump() | changes.model_dump(exclude_unset=True) | {"updated_at": utc_now()}
        return _revalidated(QuotaAssignment, merged)


# ---------------------------------------------------------------------------------------------------
# Overrides


class QuotaOverrideCreate(CamelModel):
    """A user's own limit (or none) from `valid_from` until `valid_until`."""

    user_id: _Text
    override_type: OverrideType
    monthly_cost_limit: _Usd | None = None
    daily_cost_limit: _Usd | None = None
    valid_from: datetime
    valid_until: datetime
    reason: str = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for name in ("valid_from", "valid_until"):
            moment: datetime = getattr(self, name)
            setattr(self, name, (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC))
        if self.valid_until <= self.valid_from:
            raise ValueError("validUntil must be after validFrom")
        if self.override_type is OverrideType.CUSTOM_LIMIT and self.monthly_cost_limit is None:
            raise ValueError("monthlyCostLimit is required for a custom_limit override")
        if self.override_type is OverrideType.UNLIMITED:
            self.monthly_cost_limit = self.daily_cost_limit = None
        return self


class QuotaOverrideUpdate(CamelModel):
    """A partial change: extend or shorten it, switch it off, say why."""

    valid_until: Annotated[datetime | None, NOT_NULL] = omittable()
    enabled: Annotated[bool | None, NOT_NULL] = omittable()
    reason: Annotated[str | None, NOT_NULL] = omittable(min_length=1, max_length=500)


class QuotaOverride(QuotaOverrideCreate):
    """A stored override."""

    override_id: str
    created_by: str = "system"
    created_at: datetime = Field(default_factory=utc_now)
    enabled: bool = True

    def active(self, at: datetime) -> bool:
        """Enabled, and `valid_from <= at < valid_until`."""
        return self.enabled and self.valid_from <= at < self.valid_until

    def updated(self, changes: QuotaOverrideUpdate) -> QuotaOverride:
        """A copy with `changes` applied (validated again: `validUntil` stays after `validFrom`)."""
        return _revalidated(QuotaOverride, self.model_dump() | changes.model_dump(exclude_unset=True))


# ---------------------------------------------------------------------------------------------------
# Events


class QuotaEvent(CamelModel):
    """Something administrators see on the events page and the inspector."""

    event_id: str
    user_id: str
    tier_id: str
    event_type: QuotaEventType
    current_usage: float
    quota_limit: float
    percentage_used: float
    timestamp: datetime = Field(default_factory=utc_now)
    metadata: dict[str, Any] | None = None


def warning_event_id(user_id: str, period: str, level: str) -> str:
    """One warning event per user, period and level: recording it again changes nothing."""
    digest = hashlib.sha256(f"{user_id}\x00{period}\x00{level}".encode()).hexdigest()[:24]
    return f"qw-{digest}"


# ---------------------------------------------------------------------------------------------------
# Periods


def day_of(moment: datetime) -> date:
    """The UTC day of a moment."""
    return moment.astimezone(UTC).date()


def month_of(moment: datetime) -> str:
    """The UTC month of a moment, `YYYY-MM`."""
    return moment.astimezone(UTC).strftime("%Y-%m")


def next_day(moment: datetime) -> datetime:
    """The next UTC midnight: when daily usage starts again."""
    return datetime.combine(day_of(moment) + timedelta(days=1), time(), tzinfo=UTC)


def next_month(moment: datetime) -> datetime:
    """The first instant of the next UTC month: when monthly usage starts again."""
    current = moment.astimezone(UTC)
    year, month = (current.year + 1, 1) if current.month == 12 else (current.year, current.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------------
# Resolution


@dataclass(frozen=True, slots=True)
class QuotaCatalogue:
    """Tiers and assignments (small: read whole and cached by the services)."""

    tiers: Mapping[str, QuotaTier]
    assignments: Sequence[QuotaAssignment]


@dataclass(frozen=True, slots=True)
class QuotaLimits:
    """The limits in force, in USD; `None` means no limit on that period."""

    monthly: float | None
    daily: float | None

    @property
    def unlimited(self) -> bool:
        """No limit on either period."""
        return self.monthly is None and self.daily is None


def _limit(value: float | None) -> float | None:
    return None if value is None or value >= UNLIMITED_USD else value


@dataclass(frozen=True, slots=True)
class ResolvedQuota:
    """Which tier applies to a user, found how, with which limits."""

    tier: QuotaTier | None
    assignment: QuotaAssignment | None
    override: QuotaOverride | None
    matched_by: str | None
    """`override`, `direct_user`, `app_role`, `jwt_role`, `email_domain`, `default_tier`, or `None`."""

    @property
    def limits(self) -> QuotaLimits:
        """The override's limits while one is active, else the tier's."""
        if self.override is not None:
            if self.override.override_type is OverrideType.UNLIMITED:
                return QuotaLimits(monthly=None, daily=None)
            return QuotaLimits(
                monthly=_limit(self.override.monthly_cost_limit), daily=_limit(self.override.daily_cost_limit)
            )
        if self.tier is None:
            return QuotaLimits(monthly=None, daily=None)
        return QuotaLimits(
            monthly=_limit(self.tier.monthly_cost_limit), daily=_limit(self.tier.daily_cost_limit)
        )

    @property
    def action(self) -> LimitAction:
        """What happens at the limit (an override alone blocks)."""
        return self.tier.action_on_limit if self.tier is not None else LimitAction.BLOCK

    @property
    def soft_limit_percentage(self) -> float:
        """Where warnings start."""
        return self.tier.soft_limit_percentage if self.tier is not None else 80.0

    @property
    def tier_id(self) -> str:
        """The tier's id, `override` for an override alone, or empty."""
        if self.tier is not None:
            return self.tier.tier_id
        return "override" if self.override is not None else ""


def _best(candidates: list[QuotaAssignment], tiers: Mapping[str, QuotaTier]) -> QuotaAssignment | None:
    usable = [
        assignment
        for assignment in candidates
        if assignment.enabled and (tier := tiers.get(assignment.tier_id)) is not None and tier.enabled
    ]
    usable.sort(key=lambda assignment: (-assignment.priority, assignment.assignment_id))
    return usable[0] if usable else None


def resolve_quota(
    user: User,
    catalogue: QuotaCatalogue,
    overrides: Sequence[QuotaOverride],
    *,
    app_roles: Sequence[str],
    role_tier: str | None,
    at: datetime,
) -> ResolvedQuota:
    """The one rule: which tier (and override) applies to `user` at `at`.

    1. An active override of the user (the latest starting one) replaces the limits; the tier found
       by the next steps still gives the soft limit, the action and the name.
    2. Enabled assignments with an enabled tier, in order, each step's highest priority winning:
       the user's own; one of their AppRoles (`app_roles`, highest-priority role first), else the
       tier their highest-priority AppRole names (`role_tier`); one of their JWT roles; their email
       domain; the default tier.
    3. Nothing matched: no tier (and no limit, unless an override sets one).
    """
    tiers = catalogue.tiers
    by_type: dict[AssignmentType, list[QuotaAssignment]] = {kind: [] for kind in AssignmentType}
    for assignment in catalogue.assignments:
        by_type[assignment.assignment_type].append(assignment)
    domain = email_domain(user.email)
    role_rank = {role_id: rank for rank, role_id in enumerate(app_roles)}
    steps: list[tuple[str, QuotaAssignment | None]] = [
        (
            "direct_user",
            _best([a for a in by_type[AssignmentType.DIRECT_USER] if a.user_id == user.user_id], tiers),
        ),
        (
            "app_role",
            _best(
                sorted(
                    (a for a in by_type[AssignmentType.APP_ROLE] if a.app_role_id in role_rank),
                    key=lambda a: role_rank[a.app_role_id or ""],
                ),
                tiers,
            ),
        ),
    ]
    tier: QuotaTier | None = None
    chosen: QuotaAssignment | None = None
    matched_by: str | None = None
    for name, found in steps:
        if found is not None:
            chosen, tier, matched_by = found, tiers[found.tier_id], name
            break
    if (
        tier is None
        and role_tier is not None
        and (named := tiers.get(role_tier)) is not None
        and named.enabled
    ):
        tier, matched_by = named, "app_role"
    if tier is None:
        for name, candidates in (
            ("jwt_role", [a for a in by_type[AssignmentType.JWT_ROLE] if a.jwt_role in user.roles]),
            (
                "email_domain",
                [a for a in by_type[AssignmentType.EMAIL_DOMAIN] if domain and a.email_domain == domain],
            ),
            ("default_tier", by_type[AssignmentType.DEFAULT_TIER]),
        ):
            found = _best(candidates, tiers)
            if found is not None:
                chosen, tier, matched_by = found, tiers[found.tier_id], name
                break
    active = sorted(
        (override for override in overrides if override.user_id == user.user_id and override.active(at)),
        key=lambda override: (override.valid_from, override.created_at),
    )
    if active:
        return ResolvedQuota(tier=tier, assignment=chosen, override=active[-1], matched_by="override")
    return ResolvedQuota(tier=tier, assignment=chosen, override=None, matched_by=matched_by)


# ---------------------------------------------------------------------------------------------------
# Checking


@dataclass(frozen=True, slots=True)
class PeriodUsage:
    """USD counted in one period: spent by finished turns, reserved by running ones."""

    spent: float = 0.0
    reserved: float = 0.0


@dataclass(frozen=True, slots=True)
class UsageSnapshot:
    """A user's usage of the current UTC day and month."""

    day: date
    month: str
    daily: PeriodUsage
    monthly: PeriodUsage


@dataclass(frozen=True, slots=True)
class QuotaCheck:
    """Whether a turn may run, and what to tell the user.

    `current_usage` is what finished turns spent in the binding period (the period whose limit is
    closest to being reached); `reserved` is what running turns hold. A turn is refused when
    `current_usage + reserved` has reached the limit, so concurrent turns cannot all pass a check
    made before any of them is counted.
    """

    allowed: bool
    resolved: ResolvedQuota
    period_type: PeriodType
    current_usage: float
    reserved: float
    quota_limit: float | None
    """`None`: no limit applies."""
    percentage_used: float
    warning_level: str
    """`none`, the tier's soft limit (`80%`) or `90%`: the highest level reached."""
    resets_at: datetime

    @property
    def remaining(self) -> float | None:
        """USD left in the binding period (`None` without a limit)."""
        if self.quota_limit is None:
            return None
        return max(0.0, round(self.quota_limit - self.current_usage, 9))

    @property
    def limited(self) -> bool:
        """Whether any limit applies."""
        return self.quota_limit is not None

    def warning_event(self) -> dict[str, Any]:
        """The `quota_warning` SSE event (the original's shape)."""
        return {
            "type": "quota_warning",
            "warningLevel": self.warning_level,
            "currentUsage": round(self.current_usage, 9),
            "quotaLimit": self.quota_limit,
            "percentageUsed": round(self.percentage_used, 2),
            "remaining": round(self.remaining or 0.0, 9),
            "message": (
                f"You have used {self.percentage_used:.0f}% of your {self.period_type.value} quota "
                f"(${self.current_usage:.2f} of ${self.quota_limit or 0:.2f})."
            ),
        }

    def reset_info(self) -> str:
        """When usage starts again, in words."""
        return f"Your {self.period_type.value} quota resets at {self.resets_at:%Y-%m-%d %H:%M} UTC."


def _warning_level(percentage: float, soft: float) -> str:
    levels = sorted({soft, 90.0}, reverse=True)
    return next((f"{level:g}%" for level in levels if percentage >= level), "none")


def check_quota(resolved: ResolvedQuota, usage: UsageSnapshot, *, at: datetime) -> QuotaCheck:
    """Decide a turn from the limits in force and the usage counted so far.

    With several limits, the binding one is the period with the highest share used (spent plus
    reserved); on a tie, the tier's own `period_type`. `block` refuses once that share reaches 100 %; `warn` lets the turn through.
    """
    limits = resolved.limits
    periods = [
        (PeriodType.MONTHLY, limits.monthly, usage.monthly, next_month(at)),
        (PeriodType.DAILY, limits.daily, usage.daily, next_day(at)),
    ]
    limited = [entry for entry in periods if entry[1] is not None]
    if not limited:
        period = resolved.tier.period_type if resolved.tier is not None else PeriodType.MONTHLY
        spent = usage.daily if period is PeriodType.DAILY else usage.monthly
        return QuotaCheck(
            allowed=True,
            resolved=resolved,
            period_type=period,
            current_usage=spent.spent,
            reserved=spent.reserved,
            quota_limit=None,
            percentage_used=0.0,
            warning_level="none",
            resets_at=next_day(at) if period is PeriodType.DAILY else next_month(at),
        )

    def share(entry: tuple[PeriodType, float | None, PeriodUsage, datetime]) -> float:
        _, limit, counted, _ = entry
        assert limit is not None
        return (counted.spent + counted.reserved) / limit

    preferred = resolved.tier.period_type if resolved.tier is not None else PeriodType.MONTHLY
    period, limit, counted, resets_at = max(limited, key=lambda entry: (share(entry), entry[0] is preferred))
    assert limit is not None
    percentage = counted.spent / limit * 100
    reached = counted.spent + counted.reserved >= limit
    return QuotaCheck(
        allowed=not reached or resolved.action is LimitAction.WARN,
        resolved=resolved,
        period_type=period,
        current_usage=counted.spent,
        reserved=counted.reserved,
        quota_limit=limit,
        percentage_used=percentage,
        warning_level=_warning_level(
            max(percentage, 100.0 if reached else 0.0), resolved.soft_limit_percentage
        ),
        resets_at=resets_at,
    )


def quota_exceeded(check: QuotaCheck, *, at: datetime) -> QuotaExceededError:
    """The 429 of a blocked turn: the limit, the usage, when it resets, and when to retry."""
    assert check.quota_limit is not None
    tier_name = check.resolved.tier.tier_name if check.resolved.tier is not None else None
    retry_after = max(1, math.ceil((check.resets_at - at).total_seconds()))
    return QuotaExceededError(
        f"You have reached your {check.period_type.value} usage limit "
        f"(${check.current_usage:.2f} of ${check.quota_limit:.2f}). {check.reset_info()}",
        retry_after=retry_after,
        detail={
            "type": "quota_exceeded",
            "currentUsage": round(check.current_usage, 9),
            "reserved": round(check.reserved, 9),
            "quotaLimit": check.quota_limit,
            "percentageUsed": round(check.percentage_used, 2),
            "periodType": check.period_type.value,
            "tierId": check.resolved.tier_id or None,
            "tierName": tier_name,
            "resetAt": check.resets_at.isoformat().replace("+00:00", "Z"),
            "resetInfo": check.reset_info(),
            "retryAfter": retry_after,
        },
    )


class QuotaStamp(CamelModel):
    """What a turn's cost record carries about the quota it ran under (settlement and rollups)."""

    tier_id: str = ""
    """Empty when no tier applied."""
    tier_name: str = ""
    monthly_limit: float | None = None
    """The monthly limit in force (`None`: none), for the tiers' utilisation and warning counts."""
    soft_limit_percentage: float = 80.0
    reservation_id: str | None = None
    """The reservation the stored turn releases."""


def estimate_cost(
    *,
    prompt_chars: int,
    output_tokens: int,
    input_price_per_mtok: float,
    output_price_per_mtok: float,
) -> float:
    """A turn's likely cost before it runs: ~4 characters per input token, the output budget in full.

    It is what a running turn reserves against the user's limits; the stored turn replaces it with
    the real cost.
    """
    input_tokens = math.ceil(prompt_chars / 4)
    return round((input_tokens * input_price_per_mtok + output_tokens * output_price_per_mtok) / 1_000_000, 9)
