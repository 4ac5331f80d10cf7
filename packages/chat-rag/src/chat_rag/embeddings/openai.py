"""Any OpenAI-compatible `POST /embeddings` endpoint: OpenAI, Ollama, TEI, vLLM (extra `chat-rag[openai]`).

Texts go in batches (`input` is a list); 429, 5xx and connection failures are retried with exponential
backoff, honouring `Retry-After`. A refused input (400/413/422) is the document's fault and becomes
`InvalidInputError`; anything else still failing becomes `UnavailableError`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final

import httpx
import numpy as np

from chat_core.errors import InvalidInputError, UnavailableError
from chat_rag.chunking import estimate_tokens
from chat_rag.config import OpenAIEmbedderConfig
from chat_rag.embeddings import BatchProgress, Vectors, embed_in_batches, normalize

__all__ = ["OpenAIEmbedder", "open_openai_embedder"]

_RETRY_STATUS: Final = frozenset({408, 409, 429, 500, 502, 503, 504})
_REFUSED_INPUT_STATUS: Final = frozenset({400, 413, 422})


@asynccontextmanager
async def open_openai_embedder(
    config: OpenAIEmbedderConfig, *, batch_size: int, concurrency: int
) -> AsyncIterator[OpenAIEmbedder]:
    """Open one HTTP connection pool for the lifetime of the embedder."""
    headers = {"Authorization": f"Bearer {config.api_key.get_secret_value()}"} if config.api_key else {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=config.base_url, headers=headers, timeout=config.timeout, limits=limits
    ) as client:
        yield OpenAIEmbedder(client, config, batch_size=batch_size, concurrency=concurrency)


class OpenAIEmbedder:
    """The `Embedder` for an OpenAI-compatible embeddings API."""

    def __init__(
        self, client: httpx.AsyncClient, config: OpenAIEmbedderConfig, *, batch_size: int, concurrency: int
    ) -> None:
        self._client = client
        self._config = config
        self._batch_size = batch_size
        self._concurrency = concurrency

    @property
    def embedder_id(self) -> str:
        """`openai:<model>[:<dimensions>]`."""
        suffix = f":{self._config.dimensions}" if self._config.dimensions else ""
        return f"openai:{self._config.model}{suffix}"

    @property
    def max_input_tokens(self) -> int:
        """As configured: the endpoint does not say."""
        return self._config.max_input_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """A conservative estimate: the model's tokenizer is not known here."""
        return estimate_tokens(texts)

    async def embed_documents(
        self, texts: Sequence[str], *, on_progress: BatchProgress | None = None
    ) -> Vectors:
        """`batch_size` texts per request, `concurrency` requests in flight."""
        prefix = self._config.document_prefix
        return await embed_in_batches(
            [prefix + text for text in texts],
            self._request,
            batch_size=self._batch_size,
            concurrency=self._concurrency,
            on_progress=on_progress,
        )

    async def embed_query(self, text: str) -> Vectors:
        """Embed one query (with the configured query prefix)."""
        return await self._request([self._config.query_prefix + text])

    async def _request(self, texts: list[str]) -> Vectors:
        body: dict[str, Any] = {"model": self._config.model, "input": texts, "encoding_format": "float"}
        if self._config.dimensions:
            body["dimensions"] = self._config.dimensions
        for attempt in range(1, self._config.max_attempts + 1):
            last_attempt = attempt == self._config.max_attempts
            try:
                response = await self._client.post("embeddings", json=body)
            except httpx.TransportError as exc:
                if last_attempt:
                    raise UnavailableError(
                        f"The embeddings endpoint could not be reached after {attempt} attempts."
                    ) from exc
                await asyncio.sleep(self._delay(attempt, None))
                continue
            if response.status_code in _RETRY_STATUS and not last_attempt:
                await asyncio.sleep(self._delay(attempt, response.headers.get("retry-after")))
                continue
            return self._parse(response, len(texts))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after is not None:
            try:
                return min(float(retry_after), self._config.retry_max_delay)
            except ValueError:
                pass  # JUSTIFICATION: an HTTP-date Retry-After; fall back to exponential backoff.
        ceiling = min(self._config.retry_max_delay, self._config.retry_base_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311  (jitter, not security)  # nosec B311

    def _parse(self, response: httpx.Response, expected: int) -> Vectors:
        status = response.status_code
        if status in _REFUSED_INPUT_STATUS:
            raise InvalidInputError(
                f"The embeddings endpoint refused a passage (HTTP {status}): {_detail(response)}"
            )
        if status >= 400:
            raise UnavailableError(f"Embeddings endpoint failed (HTTP {status}): {_detail(response)}")
        try:
            items = sorted(response.json()["data"], key=lambda item: item["index"])
            matrix = np.array([item["embedding"] for item in items], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise UnavailableError("The embeddings endpoint returned an unexpected response.") from exc
        if matrix.ndim != 2 or matrix.shape[0] != expected:
            raise UnavailableError(
                f"The embeddings endpoint returned {matrix.shape[0] if matrix.ndim else 0} vectors for {expected} inputs."
            )
        if self._config.dimensions and matrix.shape[1] != self._config.dimensions:
            raise UnavailableError(
                f"The embeddings endpoint returned {matrix.shape[1]} dimensions, not {self._config.dimensions}."
            )
        return normalize(matrix)


def _detail(response: httpx.Response) -> str:
    """The provider's error message, shortened (never the request, which may hold document text)."""
    try:
        body = response.json()
    except ValueError:
        body = None  # JUSTIFICATION: a non-JSON error body; its first characters are used instead.
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    return str(message or response.text)[:200]
