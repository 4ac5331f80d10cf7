import pytest

from chat_core import errors
from chat_core.errors import ChatError, ErrorCode


def all_error_classes() -> list[type[ChatError]]:
    return [
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, ChatError) and cls is not ChatError
    ]


class TestErrorCodes:
    def test_every_code_is_introduced_by_exactly_one_class(self) -> None:
        codes = [cls.code for cls in all_error_classes() if "code" in vars(cls)]
        assert sorted(codes) == sorted(ErrorCode)

    def test_missing_extra_is_an_outage_that_names_the_install(self) -> None:
        exc = errors.MissingExtraError("The AWS backend", "pip install 'chat-storage[aws]'")
        assert isinstance(exc, errors.UnavailableError)
        assert exc.code is ErrorCode.SERVICE_UNAVAILABLE
        assert not exc.recoverable
        assert exc.retry_after is None
        assert exc.message == "The AWS backend is not installed: run `pip install 'chat-storage[aws]'`."

    def test_codes_are_the_documented_strings(self) -> None:
        assert {code.value for code in ErrorCode} == {
            "bad_request", "unauthorized", "forbidden", "not_found", "conflict", "validation_error",
            "rate_limit_exceeded", "quota_exceeded", "internal_error", "service_unavailable", "timeout",
            "model_error", "stream_error",
        }  # fmt: skip


class TestChatError:
    def test_to_dict_is_the_error_object(self) -> None:
        exc = errors.NotFoundError("Session 's-1' was not found.", field="sessionId", detail={"id": "s-1"})
        assert exc.to_dict() == {
            "code": "not_found",
            "message": "Session 's-1' was not found.",
            "detail": {"id": "s-1"},
            "field": "sessionId",
        }
        assert str(exc) == "Session 's-1' was not found."

    def test_unavailable_carries_retry_after_and_is_recoverable(self) -> None:
        exc = errors.UnavailableError("Storage is unavailable.", retry_after=7)
        assert exc.retry_after == 7
        assert exc.recoverable
        assert exc.code is ErrorCode.SERVICE_UNAVAILABLE

    def test_rate_limit_retry_after(self) -> None:
        assert errors.RateLimitError("slow down", retry_after=3).retry_after == 3

    @pytest.mark.parametrize("cls", [errors.NotFoundError, errors.InvalidInputError, errors.InternalError])
    def test_permanent_errors_are_not_recoverable(self, cls: type[ChatError]) -> None:
        assert not cls("x").recoverable
