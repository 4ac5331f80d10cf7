"""The spend quota of a turn, checked before the model is called.

1. Resolve the caller's tier and override (`chat_http.quotas.resolve_user_quota`).
2. With a limit and `block`: reserve the turn's estimated cost (the prompt at the input price, the
   output budget at the output price) in one atomic step that admits it only while spent + reserved
   is below each limit. Concurrent turns therefore see each other: once the running turns' estimates
   cover the remaining budget, the next turn is refused, and the spend can exceed the limit by no more
   than what the turns already running when it was reached cost beyond their estimates. The stored
   turn replaces its reservation with its real cost (same transaction as its cost record); a turn that
   never finishes has its reservation released after `CHAT_QUOTA_RESERVATION_SECONDS`.
3. With `warn` (or no reservation needed), read the usage and decide.

Refused: 429 `quota_exceeded` with the limit, usage, reset time and `Retry-After`, and a `block` event;
or, to a client that asked for an event stream, the refusal streamed as the original sent it
(`refusal_frames`): the web client shows a 429 only as "Connection Error", but renders this stream as
the reason and its "quota exceeded" banner.
At the soft limit or 90 %: a `quota_warning` SSE event first in the stream (and one `warning` event
per user, period and level). If the quota store cannot be reached the turn is refused with 503,
unless `CHAT_QUOTA_STORE_OUTAGE=warn`.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chat_agent.streaming import encode_event
from chat_agent.turns import PreparedTurn
from chat_core.clock import utc_now
from chat_core.errors import ChatError, QuotaExceededError, UnavailableError
from chat_core.quotas import (
    LimitAction,
    PeriodType,
    QuotaCheck,
    QuotaEvent,
    QuotaEventType,
    QuotaStamp,
    ResolvedQuota,
    check_quota,
    estimate_cost,
    quota_exceeded,
    warning_event_id,
)
from chat_core.roles import UserPermissions
from chat_http.metrics import EdgeMetrics
from chat_http.quotas import QuotaCatalogueCache, resolve_user_quota
from chat_http.settings import EdgeSettings
from chat_storage import Storage

__all__ = ["Admission", "admit_turn", "refusal_frames"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Admission:
    """A turn the quota let through: what its cost record carries and what to tell the user first."""

    stamp: QuotaStamp | None
    warning: dict[str, Any] | None
    """The `quota_warning` event's data, or `None`."""


def _prompt_chars(turn: PreparedTurn) -> int:
    return (
        len(turn.system_prompt)
        + len(json.dumps(turn.history, default=str))
        + len(json.dumps(turn.prompt, default=str))
    )


async def _record(storage: Storage, event: QuotaEvent) -> None:
    try:
        await storage.quotas.record_event(event)
    except ChatError:  # JUSTIFICATION: the event log is optional; the turn's decision is already taken.
        logger.warning("quota event not recorded", extra={"eventType": event.event_type.value})


def _event(check: QuotaCheck, kind: QuotaEventType, user_id: str, at: datetime, event_id: str) -> QuotaEvent:
    return QuotaEvent(
        event_id=event_id,
        user_id=user_id,
        tier_id=check.resolved.tier_id,
        event_type=kind,
        current_usage=round(check.current_usage, 9),
        quota_limit=check.quota_limit or 0.0,
        percentage_used=round(check.percentage_used, 2),
        timestamp=at,
        metadata={"periodType": check.period_type.value, "warningLevel": check.warning_level},
    )


def _stamp(resolved: ResolvedQuota, reservation_id: str | None) -> QuotaStamp:
    return QuotaStamp(
        tier_id=resolved.tier_id,
        tier_name=resolved.tier.tier_name if resolved.tier is not None else "",
        monthly_limit=resolved.limits.monthly,
        soft_limit_percentage=resolved.soft_limit_percentage,
        reservation_id=reservation_id,
    )


async def admit_turn(
    settings: EdgeSettings,
    storage: Storage,
    cache: QuotaCatalogueCache,
    metrics: EdgeMetrics | None,
    permissions: UserPermissions,
    turn: PreparedTurn,
    *,
    max_tokens: int | None,
) -> Admission:
    """Decide whether `turn` may run; reserve its estimated cost when a `block` limit applies.

    Raises:
        QuotaExceededError: a `block` limit is reached (429).
        UnavailableError: the quota store cannot be reached and outages refuse (503).
    """
    if not settings.quota_enforcement:
        return Admission(stamp=None, warning=None)
    user = turn.user
    at = utc_now()
    try:
        resolved = await resolve_user_quota(storage.quotas, cache, user, permissions, at=at)
        limits = resolved.limits
        reservation_id: str | None = None
        if limits.unlimited:  # nothing to decide or warn about: the usage is not read
            return Admission(stamp=_stamp(resolved, None), warning=None)
        if resolved.action is LimitAction.BLOCK:
            model = turn.managed_model
            budget = min(max_tokens or model.max_output_tokens, settings.quota_reserve_output_tokens)
            estimate = estimate_cost(
                prompt_chars=_prompt_chars(turn),
                output_tokens=budget,
                input_price_per_mtok=model.input_price_per_million_tokens,
                output_price_per_mtok=model.output_price_per_million_tokens,
            )
            reservation_id = f"res-{uuid.uuid4().hex}"
            admitted, usage = await storage.usage.reserve(
                user.user_id,
                reservation_id,
                estimate,
                at=at,
                expires_at=at + timedelta(seconds=settings.quota_reservation_seconds),
                daily_limit=limits.daily,
                monthly_limit=limits.monthly,
            )
        else:
            admitted, usage = True, await storage.usage.usage(user.user_id, at=at)
    except UnavailableError:
        if settings.quota_store_outage == "warn":
            logger.warning("quota store unavailable: the turn runs unchecked (CHAT_QUOTA_STORE_OUTAGE=warn)")
            return Admission(stamp=None, warning=None)
        if metrics is not None:
            metrics.quota_blocked("store_unavailable")
        raise
    check = check_quota(resolved, usage, at=at)
    if not admitted or not check.allowed:
        if metrics is not None:
            metrics.quota_blocked("daily_limit" if check.period_type is PeriodType.DAILY else "monthly_limit")
        await _record(
            storage, _event(check, QuotaEventType.BLOCK, user.user_id, at, f"qb-{uuid.uuid4().hex}")
        )
        raise quota_exceeded(check, at=at)
    stamp = _stamp(resolved, reservation_id)
    warning = None
    if check.limited and check.warning_level != "none":
        warning = check.warning_event()
        period = usage.day.isoformat() if check.period_type is PeriodType.DAILY else usage.month
        event_id = warning_event_id(user.user_id, period, check.warning_level)
        await _record(storage, _event(check, QuotaEventType.WARNING, user.user_id, at, event_id))
    return Admission(stamp=stamp, warning=warning)


async def refusal_frames(refused: QuotaExceededError) -> AsyncIterator[bytes]:
    """A blocked turn as an event stream, the original's frames; nothing is stored.

    The reason as an assistant message that stops with `quota_exceeded`, the `quota_exceeded` event, `done`.
    """
    detail = refused.detail if isinstance(refused.detail, dict) else {}
    # The client renders the text as Markdown with TeX math, where "$1.30 of $1.00" becomes a formula.
    text = (
        f"You have reached your {detail.get('periodType', 'monthly')} usage limit "
        f"({detail.get('currentUsage', 0.0):.2f} of {detail.get('quotaLimit', 0.0):.2f} USD). "
        f"{detail.get('resetInfo', '')}"
    ).strip()
    yield encode_event("message_start", {"role": "assistant"})
    yield encode_event("content_block_start", {"contentBlockIndex": 0, "type": "text"})
    yield encode_event("content_block_delta", {"contentBlockIndex": 0, "type": "text", "text": text})
    yield encode_event("content_block_stop", {"contentBlockIndex": 0})
    yield encode_event("message_stop", {"stopReason": "quota_exceeded"})
    event = {
        "type": "quota_exceeded",
        "currentUsage": detail.get("currentUsage", 0.0),
        "quotaLimit": detail.get("quotaLimit", 0.0),
        "percentageUsed": detail.get("percentageUsed", 0.0),
        "periodType": detail.get("periodType", "monthly"),
        "resetInfo": detail.get("resetInfo", ""),
        "message": text,
    }
    if detail.get("tierName"):
        event["tierName"] = detail["tierName"]
    yield encode_event("quota_exceeded", event)
    yield encode_event("done", {})
