"""Amazon Titan Text Embeddings v2 through Bedrock Runtime `InvokeModel` (extra `chat-rag[bedrock]`).

Titan takes one text per call, so a batch is a bounded number of concurrent calls. Throttling, 5xx
responses and connection errors are retried by botocore's `standard` retry mode (with backoff and a
retry quota); what is still failing afterwards becomes `UnavailableError`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final

import aioboto3
import numpy as np
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError

from chat_core.errors import InvalidInputError, UnavailableError
from chat_rag.chunking import estimate_tokens
from chat_rag.config import BedrockEmbedderConfig
from chat_rag.embeddings import BatchProgress, Vectors, embed_in_batches, normalize

__all__ = ["BedrockEmbedder", "open_bedrock_embedder"]

_REFUSED_INPUT: Final = frozenset({"ValidationException"})


@asynccontextmanager
async def open_bedrock_embedder(
    config: BedrockEmbedderConfig, *, concurrency: int
) -> AsyncIterator[BedrockEmbedder]:
    """Open a Bedrock Runtime client for the lifetime of the embedder.

    Credentials come from the default AWS chain (role, profile, environment), resolved by botocore.
    """
    client_config = AioConfig(
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        retries={"mode": "standard", "total_max_attempts": config.max_attempts},
        max_pool_connections=max(10, concurrency),
    )
    session = aioboto3.Session()
    async with session.client(
        "bedrock-runtime", region_name=config.region, endpoint_url=config.endpoint_url, config=client_config
    ) as client:
        yield BedrockEmbedder(client, config, concurrency=concurrency)


class BedrockEmbedder:
    """The `Embedder` for Titan Text Embeddings v2; vectors are normalised by the service."""

    def __init__(self, client: Any, config: BedrockEmbedderConfig, *, concurrency: int) -> None:
        self._client = client
        self._config = config
        self._concurrency = concurrency

    @property
    def embedder_id(self) -> str:
        """`bedrock:<model id>:<dimensions>`."""
        return f"bedrock:{self._config.model_id}:{self._config.dimensions}"

    @property
    def max_input_tokens(self) -> int:
        """Titan v2 accepts 8,192 tokens."""
        return self._config.max_input_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """A conservative estimate: Titan's tokenizer is not available offline."""
        return estimate_tokens(texts)

    async def embed_documents(
        self, texts: Sequence[str], *, on_progress: BatchProgress | None = None
    ) -> Vectors:
        """One `InvokeModel` call per text, `concurrency` calls in flight."""
        return await embed_in_batches(
            texts, self._embed_batch, batch_size=1, concurrency=self._concurrency, on_progress=on_progress
        )

    async def embed_query(self, text: str) -> Vectors:
        """Embed one query."""
        return await self._embed_batch([text])

    async def _embed_batch(self, texts: list[str]) -> Vectors:
        return normalize(np.array([await self._invoke(text) for text in texts], dtype=np.float32))

    async def _invoke(self, text: str) -> list[float]:
        body = {"inputText": text, "dimensions": self._config.dimensions, "normalize": True}
        try:
            response = await self._client.invoke_model(
                modelId=self._config.model_id,
                body=json.dumps(body),
                contentType="application/json",
                accept="application/json",
            )
            payload = json.loads(await response["body"].read())
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            if code in _REFUSED_INPUT:
                raise InvalidInputError("Bedrock refused a passage for embedding.") from exc
            raise UnavailableError("Bedrock embeddings failed; try again shortly.") from exc
        except BotoCoreError as exc:
            raise UnavailableError("Bedrock embeddings could not be reached; try again shortly.") from exc
        except ValueError as exc:
            raise UnavailableError("Bedrock returned a response that is not JSON.") from exc
        embedding = payload.get("embedding") if isinstance(payload, dict) else None
        if not isinstance(embedding, list) or len(embedding) != self._config.dimensions:
            raise UnavailableError("Bedrock returned an embedding of an unexpected shape.")
        return [float(value) for value in embedding]
