"""Clients for the model that names sessions: any OpenAI-compatible endpoint, or Bedrock's Converse API.

Both make one short, non-streamed call. Their failures are ordinary exceptions: the title service
turns any of them into the fallback title, so a title model can never fail a request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import httpx

from app_api.config import Settings
from chat_core.errors import ModelError

__all__ = ["TITLE_PROMPT", "BedrockTitleModel", "OpenAITitleModel", "TitleModel", "open_title_model"]

TITLE_PROMPT = (
    "Write a short title (at most six words) for a conversation that starts with the user's message "
    "below. Answer with the title only: no quotes, no punctuation at the end."
)
_MAX_TOKENS = 24


class TitleModel(Protocol):
    """Turns the start of a conversation into a title."""

    async def generate(self, text: str) -> str:
        """The model's raw answer (the caller cleans and shortens it)."""
        ...


class OpenAITitleModel:
    """`POST {base_url}/chat/completions` on an OpenAI-compatible server (OpenAI, vLLM, Ollama...)."""

    def __init__(self, client: httpx.AsyncClient, model: str) -> None:
        self._client = client
        self._model = model

    async def generate(self, text: str) -> str:
        """One non-streamed completion."""
        response = await self._client.post(
            "chat/completions",
            json={
                "model": self._model,
                "messages": [{"role": "system", "content": TITLE_PROMPT}, {"role": "user", "content": text}],
                "max_tokens": _MAX_TOKENS,
                "temperature": 0.2,
                "stream": False,
            },
        )
        if response.status_code != 200:
            raise ModelError(f"The title model answered HTTP {response.status_code}.")
        content = response.json()["choices"][0]["message"]["content"]
        if not isinstance(content, str):
            raise ModelError("The title model returned no text.")
        return content


class BedrockTitleModel:
    """Bedrock Runtime `Converse` with a Bedrock model id (Claude Haiku, Nova Micro...)."""

    def __init__(self, client: Any, model_id: str) -> None:
        self._client = client
        self._model_id = model_id

    async def generate(self, text: str) -> str:
        """One `Converse` call."""
        response = await self._client.converse(
            modelId=self._model_id,
            system=[{"text": TITLE_PROMPT}],
            messages=[{"role": "user", "content": [{"text": text}]}],
            inferenceConfig={"maxTokens": _MAX_TOKENS, "temperature": 0.2},
        )
        blocks = response["output"]["message"]["content"]
        return "".join(block.get("text", "") for block in blocks)


@asynccontextmanager
async def open_title_model(settings: Settings) -> AsyncIterator[TitleModel | None]:
    """The configured title model (`None` when `CHAT_TITLE_PROVIDER=none`), its client closed on exit."""
    if settings.title_provider == "none" or not settings.title_model:
        yield None
    elif settings.title_provider == "openai":
        assert settings.title_openai_base_url, "checked by Settings"
        headers = {}
        if settings.title_openai_api_key is not None:
            headers["Authorization"] = f"Bearer {settings.title_openai_api_key.get_secret_value()}"
        async with httpx.AsyncClient(
            base_url=settings.title_openai_base_url.rstrip("/") + "/",
            headers=headers,
            timeout=settings.title_timeout,
        ) as client:
            yield OpenAITitleModel(client, settings.title_model)
    else:
        import aioboto3  # imported here: only a Bedrock title model needs it
        from aiobotocore.config import AioConfig

        config = AioConfig(
            connect_timeout=min(settings.title_timeout, 5.0),
            read_timeout=settings.title_timeout,
            retries={"mode": "standard", "total_max_attempts": 1},
        )
        async with aioboto3.Session().client(
            "bedrock-runtime",
            region_name=settings.aws_region,
            endpoint_url=settings.title_bedrock_endpoint_url,
            config=config,
        ) as client:
            yield BedrockTitleModel(client, settings.title_model)
