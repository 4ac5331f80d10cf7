"""HTTP shapes of the discovery routes (the original's names: `BedrockModelsResponse`, `OpenAIModelsResponse`)."""

from __future__ import annotations

from typing import Literal

from app_api.schemas import ApiModel

__all__ = [
    "BedrockModelPage",
    "CustomizationType",
    "FoundationModelRead",
    "InferenceType",
    "OpenAIModelPage",
    "OpenAIModelRead",
    "OutputModality",
]

OutputModality = Literal["TEXT", "IMAGE", "EMBEDDING"]
InferenceType = Literal["ON_DEMAND", "PROVISIONED"]
CustomizationType = Literal["FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION"]
"""The values Bedrock's `ListFoundationModels` accepts for its filters (anything else is a 422 here)."""


class FoundationModelRead(ApiModel):
    """`FoundationModelSummary`: one Bedrock foundation model."""

    model_id: str
    model_name: str
    provider_name: str
    input_modalities: list[str]
    output_modalities: list[str]
    response_streaming_supported: bool
    customizations_supported: list[str]
    inference_types_supported: list[str]
    model_lifecycle: str | None = None
    """`ACTIVE` or `LEGACY`."""


class BedrockModelPage(ApiModel):
    """`BedrockModelsResponse`: every model matching the filters (Bedrock does not page this list)."""

    models: list[FoundationModelRead]
    next_token: None = None
    """Always `null`: the list is complete."""
    total_count: int


class OpenAIModelRead(ApiModel):
    """`OpenAIModelSummary`: one model of an OpenAI-compatible `/v1/models` list."""

    id: str
    created: int | None = None
    """Unix seconds, when the endpoint says."""
    owned_by: str
    object: str | None = None


class OpenAIModelPage(ApiModel):
    """`OpenAIModelsResponse`."""

    models: list[OpenAIModelRead]
    total_count: int
