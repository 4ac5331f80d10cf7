"""Error translation (`chat_storage.aws._errors`): every backend failure maps to one chat-core error."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import aiohttp
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from chat_core.errors import (
    ChatError,
    ConflictError,
    InternalError,
    InvalidInputError,
    NotFoundError,
    UnavailableError,
)
from chat_storage.aws._errors import Rejected, call, conditional, found, transact, translate


def client_error(code: str, status: int = 400, **extra: Any) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": "injected"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response | extra, "PutItem")


def cancelled(*codes: str, item: dict[str, Any] | None = None) -> ClientError:
    reasons: list[dict[str, Any]] = [{"Code": code} for code in codes]
    if item is not None:
        reasons[codes.index("ConditionalCheckFailed")]["Item"] = item
    return client_error("TransactionCanceledException", CancellationReasons=reasons)


async def raising(exc: BaseException) -> Any:
    raise exc


class TestTranslate:
    @pytest.mark.parametrize(
        "code",
        [
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
            "SlowDown",
            "InternalServerError",
            "ServiceUnavailable",
        ],
    )
    def test_throttling_codes_are_unavailable(self, code: str) -> None:
        assert isinstance(translate(client_error(code), "read"), UnavailableError)

    @pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
    def test_429_and_5xx_are_unavailable_whatever_the_code(self, status: int) -> None:
        assert isinstance(translate(client_error("Whatever", status), "read"), UnavailableError)

    @pytest.mark.parametrize(
        "exc",
        [
            EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
            ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"),
            ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
            aiohttp.ServerDisconnectedError(),
            TimeoutError(),
            ConnectionRefusedError(),
        ],
        ids=type,
    )
    def test_connection_failures_and_timeouts_are_unavailable(self, exc: Exception) -> None:
        assert isinstance(translate(exc, "read"), UnavailableError)

    def test_a_failed_condition_is_a_conflict(self) -> None:
        assert isinstance(translate(client_error("ConditionalCheckFailedException"), "write"), ConflictError)
        assert isinstance(translate(cancelled("None", "ConditionalCheckFailed"), "write"), ConflictError)

    def test_a_transaction_lost_to_another_is_unavailable_not_a_conflict(self) -> None:
        assert isinstance(translate(cancelled("TransactionConflict", "None"), "write"), UnavailableError)

    @pytest.mark.parametrize(
        "exc",
        [
            client_error("ValidationException"),
            client_error("AccessDeniedException"),
            NoCredentialsError(),
            ParamValidationError(report="bad"),
            ValueError("bug"),
        ],
        ids=lambda exc: (
            type(exc).__name__ if not isinstance(exc, ClientError) else exc.response["Error"]["Code"]
        ),
    )
    def test_anything_else_is_internal(self, exc: Exception) -> None:
        error = translate(exc, "read")
        assert type(error) is InternalError
        assert "read" in error.message

    @pytest.mark.parametrize("code", ["ResourceNotFoundException", "NoSuchBucket"])
    def test_a_missing_table_or_bucket_is_unavailable(self, code: str) -> None:
        """An endpoint restarted empty, or not provisioned yet: an outage (503), not a bug (500)."""
        error = translate(client_error(code), "read a session")
        assert type(error) is UnavailableError
        assert error.message == "Storage is not ready: could not read a session."

    def test_an_item_over_the_size_limit_is_invalid_input(self) -> None:
        too_large = client_error("ValidationException")
        too_large.response["Error"]["Message"] = "Item size has exceeded the maximum allowed size"
        error = translate(too_large, "update a session")
        assert type(error) is InvalidInputError
        assert "ValidationException" not in error.message

    @pytest.mark.parametrize(
        "exc",
        [
            client_error("ValidationException"),
            client_error("ThrottlingException"),
            client_error("ResourceNotFoundException"),
            client_error("AccessDeniedException", 403),
            ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
            EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
            aiohttp.ServerDisconnectedError(),
            TimeoutError(),
            ValueError("bug"),
        ],
        ids=lambda exc: (
            type(exc).__name__ if not isinstance(exc, ClientError) else exc.response["Error"]["Code"]
        ),
    )
    def test_messages_name_neither_the_exception_nor_the_backend_code(self, exc: Exception) -> None:
        message = translate(exc, "read a session").message
        assert type(exc).__name__ not in message
        if isinstance(exc, ClientError):
            assert exc.response["Error"]["Code"] not in message
        assert "read a session" in message

    def test_chat_errors_pass_through(self) -> None:
        error = NotFoundError("gone")
        assert translate(error, "read") is error


class TestCall:
    @pytest.mark.asyncio
    async def test_chains_the_cause(self) -> None:
        original = client_error("ThrottlingException")
        with pytest.raises(UnavailableError) as raised:
            await call("read a session", raising(original))
        assert raised.value.__cause__ is original
        assert "read a session" in raised.value.message

    @pytest.mark.asyncio
    async def test_a_failed_condition_raises_conflict(self) -> None:
        with pytest.raises(ConflictError):
            await call("write", raising(client_error("ConditionalCheckFailedException")))


class TestConditional:
    @pytest.mark.asyncio
    async def test_a_failed_condition_is_returned_with_the_old_item(self) -> None:
        item = {"PK": {"S": "a"}}
        result = await conditional(
            "write", raising(client_error("ConditionalCheckFailedException", Item=item))
        )
        assert result == Rejected(reasons=("ConditionalCheckFailed",), old_items=(item,))

    @pytest.mark.asyncio
    async def test_transaction_reasons_say_which_item_failed(self) -> None:
        result = await conditional(
            "write", raising(cancelled("None", "ConditionalCheckFailed", item={"n": {"N": "1"}}))
        )
        assert isinstance(result, Rejected)
        assert (result.failed(0), result.failed(1), result.failed(5)) == (False, True, False)
        assert result.old_item(1) == {"n": {"N": "1"}}

    @pytest.mark.asyncio
    async def test_other_failures_raise(self) -> None:
        with pytest.raises(UnavailableError):
            await conditional("write", raising(client_error("ThrottlingException")))
        with pytest.raises(InternalError):
            await conditional("write", raising(RuntimeError("bug")))


class TestFound:
    @pytest.mark.asyncio
    @pytest.mark.parametrize("code", ["NoSuchKey", "404"])
    async def test_a_missing_object_is_none(self, code: str) -> None:
        assert await found("read", raising(client_error(code, 404))) is None

    @pytest.mark.asyncio
    async def test_a_missing_bucket_is_not_an_empty_result(self) -> None:
        with pytest.raises(UnavailableError, match="not ready"):
            await found("read", raising(client_error("NoSuchBucket", 404)))


class _ScriptedClient:
    """Answers `transact_write_items` from a script of exceptions (or `None` for success)."""

    def __init__(self, *outcomes: BaseException | None) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    def transact_write_items(self, **_: Any) -> Awaitable[dict[str, Any]]:
        self.calls += 1
        outcome = self.outcomes.pop(0)
        return raising(outcome) if outcome is not None else asyncio.sleep(0, result={})


class TestTransact:
    @pytest.mark.asyncio
    async def test_retries_a_transaction_cancelled_by_a_concurrent_one(self) -> None:
        client = _ScriptedClient(cancelled("TransactionConflict"), cancelled("TransactionConflict"), None)
        assert await transact("write", client, []) is None  # type: ignore[arg-type]  # a scripted stand-in
        assert client.calls == 3

    @pytest.mark.asyncio
    async def test_gives_up_after_bounded_attempts_with_unavailable(self) -> None:
        client = _ScriptedClient(*[cancelled("TransactionConflict")] * 5)
        with pytest.raises(UnavailableError):
            await transact("write", client, [])  # type: ignore[arg-type]  # a scripted stand-in
        assert client.calls == 5

    @pytest.mark.asyncio
    async def test_a_failed_condition_is_not_retried(self) -> None:
        client = _ScriptedClient(cancelled("ConditionalCheckFailed", "None"))
        result = await transact("write", client, [])  # type: ignore[arg-type]  # a scripted stand-in
        assert isinstance(result, Rejected)
        assert result.failed(0)
        assert client.calls == 1

    @pytest.mark.asyncio
    async def test_throttling_is_not_retried_here_botocore_already_did(self) -> None:
        client = _ScriptedClient(client_error("ThrottlingException"))
        with pytest.raises(UnavailableError) as raised:
            await transact("write", client, [])  # type: ignore[arg-type]  # a scripted stand-in
        assert isinstance(raised.value, ChatError)
        assert client.calls == 1
