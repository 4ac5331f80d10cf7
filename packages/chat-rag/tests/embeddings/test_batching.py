from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import numpy as np
import pytest

from chat_core.errors import UnavailableError
from chat_rag.embeddings import Vectors, embed_in_batches, normalize


def as_vectors(texts: list[str]) -> Vectors:
    return normalize(np.array([[len(text), 1.0] for text in texts]))


@pytest.mark.asyncio
class TestEmbedInBatches:
    async def test_rows_follow_the_input_order_whatever_the_batching(self) -> None:
        texts = ["x" * length for length in (5, 1, 9, 3, 7, 2, 8)]
        result = await embed_in_batches(texts, self.slow(as_vectors), batch_size=2, concurrency=3)
        np.testing.assert_allclose(result, as_vectors(texts))

    async def test_batches_are_bounded_in_size_and_in_flight(self) -> None:
        sizes: list[int] = []
        in_flight = 0
        peak = 0

        async def embed(texts: list[str]) -> Vectors:
            nonlocal in_flight, peak
            sizes.append(len(texts))
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1
            return as_vectors(texts)

        await embed_in_batches([str(n) for n in range(23)], embed, batch_size=5, concurrency=2)
        assert sorted(sizes) == [3, 5, 5, 5, 5]
        assert peak == 2

    async def test_progress_counts_texts_done(self) -> None:
        seen: list[int] = []

        async def record(done: int) -> None:
            seen.append(done)

        await embed_in_batches(
            ["a"] * 10, as_async(as_vectors), batch_size=4, concurrency=1, on_progress=record
        )
        assert seen == [4, 8, 10]

    async def test_a_failure_cancels_the_other_batches_and_propagates(self) -> None:
        started: list[int] = []
        cancelled: list[int] = []

        async def embed(texts: list[str]) -> Vectors:
            number = len(started)
            started.append(number)
            if number == 1:
                raise UnavailableError("provider down")
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancelled.append(number)
                raise
            return as_vectors(texts)

        with pytest.raises(UnavailableError, match="provider down"):
            await asyncio.wait_for(embed_in_batches(["a"] * 8, embed, batch_size=2, concurrency=2), timeout=5)
        assert cancelled == [0]
        assert len(started) == 2

    @staticmethod
    def slow(function: Callable[[list[str]], Vectors]) -> Callable[[list[str]], Awaitable[Vectors]]:
        """Finish batches out of order: longer texts take longer."""

        async def wrapper(texts: list[str]) -> Vectors:
            await asyncio.sleep(0.001 * len(texts[0]))
            return function(texts)

        return wrapper


def as_async(function: Callable[[list[str]], Vectors]) -> Callable[[list[str]], Awaitable[Vectors]]:
    async def wrapper(texts: list[str]) -> Vectors:
        return function(texts)

    return wrapper
