"""The `stream_error` event: what a client reads when a turn fails after its stream started."""

from __future__ import annotations

from chat_agent.streaming import stream_error_event
from chat_core.errors import ModelError, UnavailableError


class TestStreamError:
    def test_the_event_carries_the_code_message_and_retry_hint(self) -> None:
        event = stream_error_event(UnavailableError("Storage is down.", retry_after=3), session_id="s-1")
        assert event == {
            "type": "stream_error",
            "code": "service_unavailable",
            "message": "Storage is down.",
            "recoverable": True,
            "metadata": {"session_id": "s-1", "requestId": None},
            "retry_after": 3,
        }

    def test_a_failure_that_retrying_will_not_fix(self) -> None:
        event = stream_error_event(ModelError("The model refused."), session_id="s-2")
        assert (event["code"], event["recoverable"], "retry_after" in event) == ("model_error", False, False)
