"""The one place where botocore and aiohttp failures become chat-core errors.

- A failed condition (`ConditionalCheckFailedException`, or a cancelled transaction whose reasons name
  one) is an answer, not a fault: `conditional()` returns it as `Rejected`, `call()` raises
  `ConflictError`.
- Throttling, timeouts, refused or dropped connections, 5xx answers and a missing table or bucket raise
  `UnavailableError`; an item over DynamoDB's size limit raises `InvalidInputError`.
- Anything else raises `InternalError`. The cause is always chained, and nothing becomes an empty result.
  Messages say what was being done, never which exception or error code the backend gave: those stay
  in the chained cause, which the services log with the request id.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from chat_core.errors import ChatError, ConflictError, InternalError, InvalidInputError, UnavailableError

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["Rejected", "call", "conditional", "found", "transact", "translate"]

T = TypeVar("T")

_THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
        "LimitExceededException",
        "TransactionInProgressException",
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
"""Error codes that mean "try again later", whatever HTTP status carried them."""

_NOT_READY_CODES = frozenset({"ResourceNotFoundException", "NoSuchBucket"})
"""A table or the bucket is missing (not provisioned yet, or an endpoint restarted empty): the service
cannot work until an operator provisions it, which is an outage (503), not a bug."""
_ITEM_TOO_LARGE = "Item size has exceeded the maximum allowed size"

_TRANSIENT_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
_CONDITION_REASON = "ConditionalCheckFailed"
_TRANSACT_ATTEMPTS = 5
"""Tries for a transaction cancelled by a concurrent one (botocore does not retry those)."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """A conditional write whose condition did not hold.

    Attributes:
        reasons: One code per transaction item (`"None"` or `"ConditionalCheckFailed"`); one entry for
            a plain conditional write.
        old_items: The item as stored, per transaction item, when the request asked for
            `ReturnValuesOnConditionCheckFailure="ALL_OLD"`; `None` where it was missing or not asked.
    """

    reasons: tuple[str, ...]
    old_items: tuple[Mapping[str, Any] | None, ...]

    def failed(self, index: int = 0) -> bool:
        """Whether the condition of item `index` is the one that failed."""
        return index < len(self.reasons) and self.reasons[index] == _CONDITION_REASON

    def old_item(self, index: int = 0) -> Mapping[str, Any] | None:
        """The stored item behind failed condition `index` (when `ALL_OLD` was asked), else `None`."""
        return self.old_items[index] if index < len(self.old_items) else None


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


def _reasons(exc: ClientError) -> list[Mapping[str, Any]]:
    reasons = exc.response.get("CancellationReasons") or []
    return [reason for reason in reasons if isinstance(reason, Mapping)]


def _rejection(exc: ClientError) -> Rejected | None:
    """The failed condition behind `exc`, or `None` when `exc` is some other error."""
    code = _error_code(exc)
    if code == "ConditionalCheckFailedException":
        item = exc.response.get("Item")
        return Rejected(
            reasons=(_CONDITION_REASON,), old_items=(item if isinstance(item, Mapping) else None,)
        )
    if code == "TransactionCanceledException":
        reasons = _reasons(exc)
        codes = tuple(str(reason.get("Code", "None")) for reason in reasons)
        if _CONDITION_REASON in codes:
            items = tuple(
                reason["Item"] if isinstance(reason.get("Item"), Mapping) else None for reason in reasons
            )
            return Rejected(reasons=codes, old_items=items)
    return None


def _is_transient_cancellation(exc: BaseException) -> bool:
    if not isinstance(exc, ClientError) or _error_code(exc) != "TransactionCanceledException":
        return False
    codes = {str(reason.get("Code", "None")) for reason in _reasons(exc)}
    return bool(codes & _TRANSIENT_REASONS) and _CONDITION_REASON not in codes


def translate(exc: BaseException, action: str) -> ChatError:
    """Map a backend failure to the chat-core error the ports promise (the caller chains `exc`).

    Args:
        exc: What botocore, aiohttp or asyncio raised.
        action: What was being done, for the message (e.g. "read session").

    Returns:
        `ConflictError` for failed conditions, `UnavailableError` for throttling, timeouts, connection
        failures, 5xx answers and missing tables, `InvalidInputError` for an item over the size limit,
        `InternalError` for everything else.
    """
    if isinstance(exc, ChatError):
        return exc
    if isinstance(exc, ClientError):
        code = _error_code(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if _rejection(exc) is not None:
            return ConflictError(f"Could not {action}: it was changed concurrently or already exists.")
        if code in _THROTTLING_CODES or status == 429 or status >= 500 or _is_transient_cancellation(exc):
            return UnavailableError(f"Storage is unavailable: could not {action}.")
        if code in _NOT_READY_CODES:
            return UnavailableError(f"Storage is not ready: could not {action}.", retry_after=30)
        if code == "ValidationException" and _ITEM_TOO_LARGE in _error_message(exc):
            return InvalidInputError(f"Could not {action}: it is larger than storage takes.")
        return InternalError(f"Could not {action}: storage refused the request.")
    if isinstance(exc, TimeoutError):
        return UnavailableError(f"Storage did not answer in time: could not {action}.")
    if isinstance(exc, HTTPClientError | BotoConnectionError | aiohttp.ClientError | OSError):
        return UnavailableError(f"Storage is unavailable: could not {action}.")
    return InternalError(f"Could not {action}: an unexpected error occurred.")


async def call(action: str, request: Awaitable[T]) -> T:
    """Await one storage request, translating any failure (a failed condition is a `ConflictError`)."""
    try:
        return await request
    except Exception as exc:
        raise translate(exc, action) from exc


_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
"""S3's answers for a missing object (`head_object` has no body, so its code is the bare status)."""


async def found(action: str, request: Awaitable[T]) -> T | None:
    """Await an S3 object read; a missing object is `None`, every other failure is translated."""
    try:
        return await request
    except ClientError as exc:  # JUSTIFICATION: a missing object is an answer (None), not a failure.
        if _error_code(exc) not in _MISSING_CODES:
            raise translate(exc, action) from exc
        return None
    except Exception as exc:
        raise translate(exc, action) from exc


async def conditional(action: str, request: Awaitable[T]) -> T | Rejected:
    """Await a conditional write; a failed condition is returned as `Rejected`, not raised.

    Every other failure is translated and raised as in `call`.
    """
    try:
        return await request
    except ClientError as exc:  # JUSTIFICATION: a failed condition is an answer, returned as Rejected.
        rejection = _rejection(exc)
        if rejection is None:
            raise translate(exc, action) from exc
        return rejection
    except Exception as exc:
        raise translate(exc, action) from exc


async def transact(action: str, client: DynamoDBClient, items: Sequence[Any]) -> Rejected | None:
    """Run TransactWriteItems: `None` on success, `Rejected` when a condition failed.

    DynamoDB cancels a transaction that touches an item another transaction is writing
    (`TransactionConflict`) and botocore does not retry that, so we do, a few times with jitter.
    Every other failure is translated and raised as in `call`.
    """
    for attempt in range(_TRANSACT_ATTEMPTS):
        try:
            result = await conditional(action, client.transact_write_items(TransactItems=list(items)))
        except (
            UnavailableError
        ) as exc:  # JUSTIFICATION: a transaction that lost to a concurrent one is retried.
            cause = exc.__cause__
            if attempt + 1 == _TRANSACT_ATTEMPTS or cause is None or not _is_transient_cancellation(cause):
                raise
        else:
            return result if isinstance(result, Rejected) else None
        await asyncio.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 - jitter, not security
    raise AssertionError("unreachable: the last attempt returns or raises")
