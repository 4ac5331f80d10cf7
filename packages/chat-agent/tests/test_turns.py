"""The turn runner's stream: events written together within the flush interval, failures before and after
the first event, read through `TurnRunner.start` with a replayed strands model."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from strands.models import Model

from chat_agent.turns import DiscardingTurnStore, PreparedTurn, TurnPolicy, TurnRunner
from chat_core.errors import ModelError
from chat_core.identity import User
from chat_core.ids import SessionId, UserId
from chat_core.managed_models import ManagedModel, ModelProvider
from chat_core.messages import ContentBlock, MessageDraft


class ReplayModel(Model):
    """Streams `deltas` text deltas, each in its own event-loop step; fails after `fail_after` of them."""

    def __init__(self, deltas: int, *, fail_after: int | None = None) -> None:
        self.deltas = deltas
        self.fail_after = fail_after
        self.config: dict[str, Any] = {"model_id": "replay"}

    def update_config(self, **model_config: Any) -> None:
        self.config.update(model_config)

    def get_config(self) -> dict[str, Any]:
        return self.config

    def structured_output(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        if self.fail_after == 0:
            raise ModelError("The model failed.")
        yield {"messageStart": {"role": "assistant"}}
        yield {"contentBlockStart": {"start": {}}}
        for index in range(self.deltas):
            if index == self.fail_after:
                raise ModelError("The model failed.")
            yield {"contentBlockDelta": {"delta": {"text": f"t{index} "}}}
            await asyncio.sleep(0)
        yield {"contentBlockStop": {}}
        yield {"messageStop": {"stopReason": "end_turn"}}
        yield {"metadata": {"usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}, "metrics": {}}}


def prepared(model: Model) -> PreparedTurn:
    return PreparedTurn(
        user=User(user_id=UserId("alice"), email="alice@example.com", name="Alice", roles=[]),
        session_id=SessionId("s-1"),
        managed_model=ManagedModel(
            model_id="replay",
            model_name="Replay",
            provider=ModelProvider.OFFLINE,
            provider_name="test",
            input_modalities=["text"],
            output_modalities=["text"],
            max_input_tokens=1000,
            max_output_tokens=100,
            allowed_app_roles=["*"],
            input_price_per_million_tokens=1.0,
            output_price_per_million_tokens=2.0,
        ),
        model=model,
        system_prompt="Be brief.",
        prompt=[{"text": "hi"}],
        history=[],
        tools=[],
        citations=[],
        user_message=MessageDraft(role="user", content=[ContentBlock.of_text("hi")]),
        preferences={},
        started=time.perf_counter(),
    )


async def chunks(runner: TurnRunner, model: Model) -> list[bytes]:
    frames = await runner.start(prepared(model), DiscardingTurnStore())
    return [chunk async for chunk in frames]


def events(written: list[bytes]) -> list[str]:
    return [
        line.removeprefix("event: ")
        for line in b"".join(written).decode().splitlines()
        if line.startswith("event: ")
    ]


class TestStream:
    @pytest.mark.asyncio
    async def test_events_within_the_flush_interval_are_written_together(self) -> None:
        runner = TurnRunner(
            TurnPolicy(max_attempts=1, initial_delay=0, window_messages=10, flush_seconds=10.0)
        )
        written = await chunks(runner, ReplayModel(300))
        assert len(written) == 2, "the first events at once, the rest when the turn ends"
        names = events(written)
        assert names[0] == "message_start"
        assert names.count("content_block_delta") == 300
        assert names[-2:] == ["metadata", "done"]
        text = b"".join(written).decode()
        assert text.index('"t0 "') < text.index('"t1 "') < text.index('"t299 "'), "in order"

    @pytest.mark.asyncio
    async def test_without_a_flush_interval_nothing_waits(self) -> None:
        runner = TurnRunner(
            TurnPolicy(max_attempts=1, initial_delay=0, window_messages=10, flush_seconds=0.0)
        )
        written = await chunks(runner, ReplayModel(50))
        assert len(written) > 10, "each write takes what has arrived since the last one"
        assert events(written).count("content_block_delta") == 50
        assert events(written)[-1] == "done"

    @pytest.mark.asyncio
    async def test_a_failure_before_the_first_event_is_raised(self) -> None:
        runner = TurnRunner(
            TurnPolicy(max_attempts=1, initial_delay=0, window_messages=10, flush_seconds=0.05)
        )
        with pytest.raises(ModelError):
            await runner.start(prepared(ReplayModel(5, fail_after=0)), DiscardingTurnStore())
        await runner.drain(1)

    @pytest.mark.asyncio
    async def test_a_failure_after_the_first_event_closes_the_stream(self) -> None:
        runner = TurnRunner(
            TurnPolicy(max_attempts=1, initial_delay=0, window_messages=10, flush_seconds=0.05)
        )
        names = events(await chunks(runner, ReplayModel(20, fail_after=10)))
        assert names.count("content_block_delta") == 10
        assert names[-4:] == ["content_block_stop", "message_stop", "stream_error", "done"]
        await runner.drain(1)
