"""The platform's error model: one hierarchy rooted at `ChatError`, each class tied to an `ErrorCode`.

Libraries raise these; each service maps `ErrorCode` to an HTTP status exactly once. Nothing here
knows about HTTP.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ChatError",
    "ConflictError",
    "ErrorCode",
    "InternalError",
    "InvalidInputError",
    "MissingExtraError",
    "ModelError",
    "NotFoundError",
    "OperationTimeoutError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitError",
    "StreamError",
    "UnavailableError",
]


class ErrorCode(StrEnum):
    """Stable, machine-readable error codes shared by every service and client."""

    BAD_REQUEST = "bad_request"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    VALIDATION_ERROR = "validation_error"
    RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"
    QUOTA_EXCEEDED = "quota_exceeded"
    INTERNAL_ERROR = "internal_error"
    SERVICE_UNAVAILABLE = "service_unavailable"
    TIMEOUT = "timeout"
    MODEL_ERROR = "model_error"
    STREAM_ERROR = "stream_error"


class ChatError(Exception):
    """Base for every error the platform raises on purpose.

    Attributes:
        message: Safe to show to a person; never contains internals.
        detail: Optional structured detail for clients (ids, limits, current usage).
        field: The offending input field, when one is to blame.
    """

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_ERROR
    recoverable: ClassVar[bool] = False
    """Whether retrying the same request later may succeed."""

    def __init__(self, message: str, *, detail: Any = None, field: str | None = None) -> None:
        self.message = message
        self.detail = detail
        self.field = field
        super().__init__(message)

    def to_dict(self) -> dict[str, Any]:
        """The `error` object of the documented error body (without the request id)."""
        return {"code": self.code.value, "message": self.message, "detail": self.detail, "field": self.field}


class BadRequestError(ChatError):
    """The request is well-formed but cannot be carried out as asked."""

    code = ErrorCode.BAD_REQUEST


class InvalidInputError(ChatError):
    """A value failed validation (an id, a cursor, a limit, a file type)."""

    code = ErrorCode.VALIDATION_ERROR


class AuthenticationError(ChatError):
    """No credentials, or credentials that could not be verified."""

    code = ErrorCode.UNAUTHORIZED


class PermissionDeniedError(ChatError):
    """The caller is known but may not do this."""

    code = ErrorCode.FORBIDDEN


class NotFoundError(ChatError):
    """The thing does not exist, or the caller may not know that it exists."""

    code = ErrorCode.NOT_FOUND


class ConflictError(ChatError):
    """A concurrent change won, a duplicate exists, or the state does not allow this transition."""

    code = ErrorCode.CONFLICT
    recoverable = True


class RateLimitError(ChatError):
    """Too many requests from this caller; `retry_after` says when to try again."""

    code = ErrorCode.RATE_LIMIT_EXCEEDED
    recoverable = True

    def __init__(self, message: str, *, retry_after: int | None = None, detail: Any = None) -> None:
        super().__init__(message, detail=detail)
        self.retry_after = retry_after


class QuotaExceededError(ChatError):
    """A per-user limit (storage, spend) would be exceeded; `retry_after` says when it resets, if known."""

    code = ErrorCode.QUOTA_EXCEEDED

    def __init__(
        self, message: str, *, retry_after: int | None = None, detail: Any = None, field: str | None = None
    ) -> None:
        super().__init__(message, detail=detail, field=field)
        self.retry_after = retry_after


class InternalError(ChatError):
    """A bug or an unexpected failure; the message stays generic."""

    code = ErrorCode.INTERNAL_ERROR


class UnavailableError(ChatError):
    """A dependency (storage, index, model provider) is unreachable, throttling or failing."""

    code = ErrorCode.SERVICE_UNAVAILABLE
    recoverable = True

    def __init__(self, message: str, *, retry_after: int | None = 5, detail: Any = None) -> None:
        super().__init__(message, detail=detail)
        self.retry_after = retry_after


class MissingExtraError(UnavailableError):
    """A configured feature needs an optional dependency that is not installed.

    The message names what to install, e.g. ``pip install 'chat-storage[aws]'``.
    """

    recoverable = False

    def __init__(self, feature: str, install: str) -> None:
        super().__init__(f"{feature} is not installed: run `{install}`.", retry_after=None)
        self.install = install


class OperationTimeoutError(ChatError):
    """An operation did not finish within its deadline."""

    code = ErrorCode.TIMEOUT
    recoverable = True


class ModelError(ChatError):
    """The model provider refused or failed the request."""

    code = ErrorCode.MODEL_ERROR


class StreamError(ChatError):
    """A streamed turn failed after the first event was sent."""

    code = ErrorCode.STREAM_ERROR
