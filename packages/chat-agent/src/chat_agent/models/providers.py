"""The model of a turn, by the managed model's provider: Bedrock, any OpenAI-compatible endpoint, offline.

Clients that hold connection pools (the boto3 session, the OpenAI HTTP client) are created on first use
and shared by every turn; the strands model wrapping them is built per turn with that turn's options.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from strands.models import Model

from chat_agent.config import ProviderConfig
from chat_agent.models.base import ModelRequest
from chat_agent.models.offline import OfflineExtractiveModel
from chat_core.errors import BadRequestError
from chat_core.managed_models import ModelProvider

if TYPE_CHECKING:
    import boto3
    import openai

__all__ = ["ProviderModels"]


class ProviderModels:
    """The default `ModelFactory`: picks the provider stored on the managed model, never guesses it."""

    def __init__(self, config: ProviderConfig) -> None:
        self._config = config
        self._boto_session: boto3.Session | None = None
        self._openai: openai.AsyncOpenAI | None = None

    def __call__(self, request: ModelRequest) -> Model:
        """A fresh strands model for one turn.

        Raises:
            BadRequestError: the offline model in production.
        """
        managed = request.managed_model
        match managed.provider:
            case ModelProvider.BEDROCK:
                return self._bedrock(request)
            case ModelProvider.OPENAI:
                return self._openai_model(request)
            case ModelProvider.OFFLINE:
                if not self._config.allow_offline:
                    raise BadRequestError("The offline model is not available in production.")
                return OfflineExtractiveModel(model_id=managed.model_id, grounding=request.grounding)

    def _bedrock(self, request: ModelRequest) -> Model:
        import boto3
        from botocore.config import Config
        from strands.models.bedrock import BedrockModel
        from strands.models.model import CacheConfig

        if self._boto_session is None:  # credentials come from the standard AWS chain
            self._boto_session = boto3.Session(region_name=self._config.aws_region)
        options: dict[str, Any] = {
            "model_id": request.managed_model.model_id,
            "temperature": request.temperature,
            "streaming": True,
        }
        if request.max_tokens is not None:
            options["max_tokens"] = request.max_tokens
        if request.caching:
            options["cache_config"] = CacheConfig(strategy="auto")
        return BedrockModel(
            boto_session=self._boto_session,
            endpoint_url=self._config.bedrock_endpoint_url,
            boto_client_config=Config(
                connect_timeout=self._config.connect_timeout,
                read_timeout=self._config.read_timeout,
                retries={"total_max_attempts": 1, "mode": "standard"},  # strands retries throttling itself
            ),
            **options,
        )

    def _openai_model(self, request: ModelRequest) -> Model:
        import openai
        from strands.models.openai import OpenAIModel

        if self._openai is None:
            key = self._config.openai_api_key
            self._openai = openai.AsyncOpenAI(
                base_url=self._config.openai_base_url,
                api_key=key.get_secret_value() if key else "not-needed",
                timeout=openai.Timeout(self._config.read_timeout, connect=self._config.connect_timeout),
                max_retries=0,  # strands retries throttling itself
            )
        params: dict[str, Any] = {"temperature": request.temperature}
        if request.max_tokens is not None:
            params["max_tokens"] = request.max_tokens
        return OpenAIModel(client=self._openai, model_id=request.managed_model.model_id, params=params)

    async def aclose(self) -> None:
        """Close the shared HTTP client (at shutdown)."""
        if self._openai is not None:
            await self._openai.close()
