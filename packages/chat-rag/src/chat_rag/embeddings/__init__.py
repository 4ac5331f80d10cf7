"""The embedder port and its three adapters: `local` (MiniLM in NumPy), `bedrock` (Titan v2), `openai`.

Each adapter lives in its own module and imports its optional dependency there, so a deployment pays
only for the embedder it configures; a missing extra raises `MissingExtraError` naming the extra.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from chat_rag.config import BedrockEmbedderConfig, EmbedderConfig, LocalEmbedderConfig, OpenAIEmbedderConfig
from chat_rag.errors import MissingExtraError

__all__ = ["BatchProgress", "Embedder", "Vectors", "embed_in_batches", "normalize", "open_embedder"]

Vectors = NDArray[np.float32]
"""A `(n, dimensions)` matrix of L2-normalised float32 rows."""

BatchProgress = Callable[[int], Awaitable[None]]
"""Called with the number of texts embedded so far."""


class Embedder(Protocol):
    """Turns passages and queries into unit vectors; one instance serves one model."""

    @property
    def embedder_id(self) -> str:
        """Names the vector space (provider, model, dimensions): vectors from different ids never mix."""
        ...

    @property
    def max_input_tokens(self) -> int:
        """Longest input in the model's tokens (special tokens excluded) that is embedded whole."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text as the model counts them (or a safe over-estimate)."""
        ...

    async def embed_documents(
        self, texts: Sequence[str], *, on_progress: BatchProgress | None = None
    ) -> Vectors:
        """Embed passages in bounded batches; rows follow the order of `texts`.

        Raises:
            UnavailableError: the provider is unreachable or kept throttling after the retries.
            InvalidInputError: the provider refused the input itself.
        """
        ...

    async def embed_query(self, text: str) -> Vectors:
        """Embed one search query; returns a `(1, dimensions)` matrix."""
        ...


def normalize(matrix: NDArray[np.floating]) -> Vectors:
    """L2-normalise rows so that cosine similarity is a dot product."""
    vectors = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    result: Vectors = vectors / np.maximum(norms, np.float32(1e-12))
    return result


async def embed_in_batches(
    texts: Sequence[str],
    embed_batch: Callable[[list[str]], Awaitable[Vectors]],
    *,
    batch_size: int,
    concurrency: int,
    on_progress: BatchProgress | None = None,
) -> Vectors:
    """Embed `texts` in batches of `batch_size`, at most `concurrency` batches in flight.

    Texts are grouped by length first so a batch pads little; the result is in the original order.
    On the first failure the other batches are cancelled and the error propagates unchanged.
    """
    if not texts:
        raise ValueError("nothing to embed")
    order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    results: list[Vectors | None] = [None] * len(batches)
    pending = iter(range(len(batches)))
    done = 0

    async def worker() -> None:
        nonlocal done
        for batch_index in pending:
            batch = batches[batch_index]
            results[batch_index] = await embed_batch([texts[index] for index in batch])
            done += len(batch)
            if on_progress is not None:
                await on_progress(done)

    workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(batches)))]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise
    stacked = np.concatenate([matrix for matrix in results if matrix is not None])
    output = np.empty_like(stacked)
    output[np.asarray(order)] = stacked
    return output


@asynccontextmanager
async def open_embedder(
    config: EmbedderConfig, *, batch_size: int, concurrency: int
) -> AsyncIterator[Embedder]:
    """Build the configured embedder and release its clients on exit.

    Raises:
        MissingExtraError: the embedder's optional dependencies are not installed.
    """
    match config:
        case LocalEmbedderConfig():
            try:
                from chat_rag.embeddings.local import LocalEmbedder  # imported here: needs the extra
            except ImportError as exc:
                raise MissingExtraError("The local embedder", "pip install 'chat-rag[local]'") from exc
            yield await LocalEmbedder.load(config, batch_size=batch_size)
        case BedrockEmbedderConfig():
            try:
                from chat_rag.embeddings.bedrock import open_bedrock_embedder
            except ImportError as exc:
                raise MissingExtraError("The Bedrock embedder", "pip install 'chat-rag[bedrock]'") from exc
            async with open_bedrock_embedder(config, concurrency=concurrency) as embedder:
                yield embedder
        case OpenAIEmbedderConfig():
            try:
                from chat_rag.embeddings.openai import open_openai_embedder
            except ImportError as exc:
                raise MissingExtraError(
                    "The OpenAI-compatible embedder", "pip install 'chat-rag[openai]'"
                ) from exc
            async with open_openai_embedder(
                config, batch_size=batch_size, concurrency=concurrency
            ) as embedder:
                yield embedder
