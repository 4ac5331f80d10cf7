"""Provider failures (strands, botocore, openai) translated into the platform's `ChatError`s.

Messages are safe to show a person: they say what happened and what to do, never the provider's
own text (which may carry account ids, ARNs or request bodies).
"""

from __future__ import annotations

import sys
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from strands.types.exceptions import (
    ContextWindowOverflowException,
    MaxTokensReachedException,
    ModelThrottledException,
)

from chat_core.errors import (
    BadRequestError,
    ChatError,
    InternalError,
    ModelError,
    OperationTimeoutError,
    RateLimitError,
    UnavailableError,
)

__all__ = ["as_chat_error"]

_UNREACHABLE: Final = "The model provider could not be reached. Please try again in a moment."
_BUSY: Final = "The model is busy right now. Please try again in a moment."
_REJECTED: Final = "The model provider rejected the request."
_AWS_UNAVAILABLE: Final = frozenset(
    {"ServiceUnavailableException", "InternalServerException", "ModelNotReadyException"}
)
_AWS_BUSY: Final = frozenset({"ThrottlingException", "TooManyRequestsException"})


def _from_aws(exc: ClientError) -> ChatError:
    code = exc.response.get("Error", {}).get("Code", "")
    if code == "AccessDeniedException":
        return ModelError("This service may not use the model (access denied by the provider).")
    if code == "ResourceNotFoundException":
        return ModelError("The model provider does not offer this model.")
    if code == "ModelTimeoutException":
        return OperationTimeoutError("The model took too long to answer. Please try again.")
    if code in _AWS_BUSY:
        return RateLimitError(_BUSY, retry_after=10)
    if code in _AWS_UNAVAILABLE:
        return UnavailableError(_UNREACHABLE)
    return ModelError(_REJECTED)


def _from_openai(exc: BaseException) -> ChatError | None:
    openai = sys.modules.get("openai")
    if openai is None:  # never imported, so this cannot be one of its errors
        return None
    if isinstance(exc, openai.APITimeoutError):
        return OperationTimeoutError("The model took too long to answer. Please try again.")
    if isinstance(exc, openai.APIConnectionError):
        return UnavailableError(_UNREACHABLE)
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code in (401, 403):
            return ModelError("The model provider refused the service's credentials.")
        if exc.status_code == 404:
            return ModelError("The model provider does not offer this model.")
        if exc.status_code >= 500:
            return UnavailableError(_UNREACHABLE)
        return ModelError(_REJECTED)
    if isinstance(exc, openai.OpenAIError):
        return ModelError(_REJECTED)
    return None


def as_chat_error(exc: BaseException) -> ChatError:
    """The `ChatError` a failure inside a turn stands for (itself when it already is one)."""
    if isinstance(exc, ChatError):
        return exc
    if isinstance(exc, ModelThrottledException):
        return RateLimitError(_BUSY, retry_after=10)
    if isinstance(exc, ContextWindowOverflowException):
        return BadRequestError("The conversation is too long for this model. Please start a new session.")
    if isinstance(exc, MaxTokensReachedException):
        return ModelError("The answer reached the maximum length before it was complete.")
    if isinstance(exc, ClientError):
        return _from_aws(exc)
    if isinstance(exc, BotoConnectionError | BotoCoreError):
        return UnavailableError(_UNREACHABLE)
    translated = _from_openai(exc)
    if translated is not None:
        return translated
    return InternalError("An unexpected error occurred while answering. Please try again.")
