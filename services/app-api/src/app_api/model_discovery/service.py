"""Listing what a provider offers: Bedrock's foundation models, an OpenAI-compatible `/v1/models`.

A provider that is not configured is a 503 that says what to set, never an empty list. A provider
that cannot be reached is a 503 (worth retrying); one that refuses or answers nonsense is a 502.
"""

from __future__ import annotations

from typing import Any, NoReturn

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app_api.config import Settings
from app_api.model_discovery.schemas import FoundationModelRead, OpenAIModelRead
from chat_core.errors import ModelError, UnavailableError

__all__ = ["BedrockFilters", "list_bedrock_models", "list_gemini_models", "list_openai_models"]

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"


class BedrockFilters(BaseModel):
    """`ListFoundationModels` filters, by their API names; unset ones are left out."""

    model_config = ConfigDict(frozen=True)

    by_provider: str | None = None
    by_output_modality: str | None = None
    by_inference_type: str | None = None
    by_customization_type: str | None = None

    def request(self) -> dict[str, str]:
        """The API's parameters (`byProvider`, ...)."""
        names = {
            "by_provider": "byProvider",
            "by_output_modality": "byOutputModality",
            "by_inference_type": "byInferenceType",
            "by_customization_type": "byCustomizationType",
        }
        return {names[field]: value for field, value in self.model_dump(exclude_none=True).items()}


def _foundation_model(summary: dict[str, Any]) -> FoundationModelRead:
    lifecycle = summary.get("modelLifecycle")
    return FoundationModelRead(
        model_id=summary.get("modelId", ""),
        model_name=summary.get("modelName", ""),
        provider_name=summary.get("providerName", ""),
        input_modalities=summary.get("inputModalities", []),
        output_modalities=summary.get("outputModalities", []),
        response_streaming_supported=bool(summary.get("responseStreamingSupported", False)),
        customizations_supported=summary.get("customizationsSupported", []),
        inference_types_supported=summary.get("inferenceTypesSupported", []),
        model_lifecycle=lifecycle.get("status") if isinstance(lifecycle, dict) else lifecycle,
    )


async def list_bedrock_models(
    settings: Settings, filters: BedrockFilters, *, max_results: int | None
) -> list[FoundationModelRead]:
    """Bedrock's foundation models matching `filters`, newest ids first, at most `max_results`.

    Calls the Bedrock control plane (`ListFoundationModels`) in `CHAT_AWS_REGION` with the standard
    AWS credential chain (`CHAT_BEDROCK_CONTROL_ENDPOINT_URL` overrides the endpoint).

    Raises:
        UnavailableError: no AWS credentials (Bedrock is not configured), or Bedrock cannot be reached.
        ModelError: Bedrock refused the request or answered something unreadable.
    """
    import aioboto3  # imported here: only this admin page needs the Bedrock control plane
    from aiobotocore.config import AioConfig
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    config = AioConfig(
        connect_timeout=settings.aws_connect_timeout,
        read_timeout=settings.aws_read_timeout,
        retries={"mode": "standard", "total_max_attempts": settings.aws_max_attempts},
    )
    try:
        async with aioboto3.Session().client(
            "bedrock",
            region_name=settings.aws_region,
            endpoint_url=settings.bedrock_control_endpoint_url,
            config=config,
        ) as bedrock:
            response = await bedrock.list_foundation_models(**filters.request())
    except NoCredentialsError as exc:
        raise UnavailableError(
            "Bedrock is not configured: no AWS credentials were found (environment, profile or role).",
            retry_after=None,
        ) from exc
    except ClientError as exc:
        raise ModelError("Bedrock refused to list its models; see the service log.") from exc
    except BotoCoreError as exc:
        raise UnavailableError("Bedrock could not be reached; try again shortly.") from exc
    try:
        models = [_foundation_model(summary) for summary in response.get("modelSummaries", [])]
    except ValidationError as exc:
        raise ModelError("Bedrock answered with a model list this service cannot read.") from exc
    models.sort(key=lambda model: model.model_id, reverse=True)
    return models[:max_results] if max_results else models


class _OpenAIModel(BaseModel):
    id: str = Field(min_length=1)
    created: int | None = None
    owned_by: str = ""
    object: str | None = None


class _OpenAIModelList(BaseModel):
    data: list[_OpenAIModel]


async def list_openai_models(settings: Settings, *, max_results: int | None) -> list[OpenAIModelRead]:
    """The models of the configured OpenAI-compatible endpoint, newest first, at most `max_results`.

    `CHAT_OPENAI_BASE_URL` names the endpoint (e.g. `http://host:8000/v1` for vLLM or Ollama; unset
    means OpenAI itself when `CHAT_OPENAI_API_KEY` is set) and `GET {base}/models` lists them.

    Raises:
        UnavailableError: nothing is configured, or the endpoint cannot be reached.
        ModelError: the endpoint refused the request or answered something unreadable.
    """
    if settings.openai_base_url is None and settings.openai_api_key is None:
        raise UnavailableError(
            "No OpenAI-compatible endpoint is configured: set CHAT_OPENAI_BASE_URL "
            "(and CHAT_OPENAI_API_KEY if it needs one).",
            retry_after=None,
        )
    base_url = (settings.openai_base_url or OPENAI_DEFAULT_BASE_URL).rstrip("/")
    headers = {}
    if settings.openai_api_key is not None:
        headers["Authorization"] = f"Bearer {settings.openai_api_key.get_secret_value()}"
    timeout = httpx.Timeout(settings.aws_read_timeout, connect=settings.aws_connect_timeout)
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.get(f"{base_url}/models", headers=headers)
    except httpx.HTTPError as exc:
        raise UnavailableError(
            "The OpenAI-compatible endpoint could not be reached; try again shortly."
        ) from exc
    if response.status_code in (401, 403):
        raise ModelError(
            f"The OpenAI-compatible endpoint refused the request (HTTP {response.status_code}): "
            "check CHAT_OPENAI_API_KEY."
        )
    if response.status_code != 200:
        raise ModelError(f"The OpenAI-compatible endpoint answered HTTP {response.status_code}.")
    try:
        listed = _OpenAIModelList.model_validate_json(response.content)
    except ValidationError as exc:
        raise ModelError(
            "The OpenAI-compatible endpoint answered with a list this service cannot read."
        ) from exc
    models = [
        OpenAIModelRead(id=model.id, created=model.created, owned_by=model.owned_by, object=model.object)
        for model in listed.data
    ]
    models.sort(key=lambda model: (-(model.created or 0), model.id))
    return models[:max_results] if max_results else models


def list_gemini_models() -> NoReturn:
    """This platform has no Gemini provider, so there is nothing to list (the original listed Google's).

    Raises:
        UnavailableError: always, saying so.
    """
    raise UnavailableError(
        "Gemini is not configured: this platform has no Gemini provider. Use Bedrock or an "
        "OpenAI-compatible endpoint.",
        retry_after=None,
    )
