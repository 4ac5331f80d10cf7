"""The process-wide BLAS limit shared by blocks that overlap (search and embedding run concurrently)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController, threadpool_limits  # type: ignore[import-untyped]

from chat_rag._blas import blas_threads


def blas_thread_count() -> int:
    return int(ThreadpoolController().select(user_api="blas").info()[0]["num_threads"])


@pytest.fixture(autouse=True)
def two_threads_outside() -> Iterator[None]:
    np.ones((2, 2)) @ np.ones((2, 2))  # BLAS is loaded
    with threadpool_limits(limits=2, user_api="blas"):
        yield


class TestBlasThreads:
    def test_a_block_that_ends_first_leaves_the_limit_to_the_others(self) -> None:
        first, second = blas_threads(1), blas_threads(1)
        first.__enter__()
        second.__enter__()
        first.__exit__(None, None, None)
        assert blas_thread_count() == 1
        second.__exit__(None, None, None)
        assert blas_thread_count() == 2

    def test_overlapping_blocks_get_the_smallest_count_asked_for(self) -> None:
        with blas_threads(2):
            assert blas_thread_count() == 2
            with blas_threads(1):
                assert blas_thread_count() == 1
            assert blas_thread_count() == 2
        assert blas_thread_count() == 2

    def test_the_original_setting_returns_after_an_error(self) -> None:
        with pytest.raises(RuntimeError), blas_threads(1):
            raise RuntimeError("inside")
        assert blas_thread_count() == 2

    def test_blocks_in_different_threads_each_get_their_limit(self) -> None:
        # threadpoolctl >= 3.8 ignores limits set by any thread but the one that set it first.
        def inside() -> int:
            with blas_threads(1):
                return blas_thread_count()

        with ThreadPoolExecutor(1) as first, ThreadPoolExecutor(1) as second:
            seen = [pool.submit(inside).result() for pool in (first, second, first, second)]
        assert seen == [1, 1, 1, 1]
        assert blas_thread_count() == 2
