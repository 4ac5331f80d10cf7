"""`GET /admin/bedrock/models`, `GET /admin/openai/models`, `GET /admin/gemini/models` (administrators)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app_api.dependencies import AdminUser, SettingsDep
from app_api.model_discovery import service
from app_api.model_discovery.schemas import (
    BedrockModelPage,
    CustomizationType,
    InferenceType,
    OpenAIModelPage,
    OutputModality,
)
from chat_http.errors import error_responses

__all__ = ["router"]

router = APIRouter(prefix="/admin", tags=["admin"], responses=error_responses(403, 502))
MaxResults = Annotated[int | None, Query(ge=1, le=1000, description="Return at most this many")]


@router.get("/bedrock/models", response_model=BedrockModelPage)
async def read_bedrock_models(
    admin: AdminUser,
    settings: SettingsDep,
    by_provider: Annotated[
        str | None, Query(pattern=r"^[A-Za-z0-9- ]{1,63}$", description="e.g. Anthropic, Amazon")
    ] = None,
    by_output_modality: OutputModality | None = None,
    by_inference_type: InferenceType | None = None,
    by_customization_type: CustomizationType | None = None,
    max_results: MaxResults = None,
) -> BedrockModelPage:
    """Admin: Bedrock's foundation models (`ListFoundationModels` with its filters), newest ids first."""
    filters = service.BedrockFilters(
        by_provider=by_provider,
        by_output_modality=by_output_modality,
        by_inference_type=by_inference_type,
        by_customization_type=by_customization_type,
    )
    models = await service.list_bedrock_models(settings, filters, max_results=max_results)
    return BedrockModelPage(models=models, total_count=len(models))


@router.get("/openai/models", response_model=OpenAIModelPage)
async def read_openai_models(
    admin: AdminUser, settings: SettingsDep, max_results: MaxResults = None
) -> OpenAIModelPage:
    """Admin: the models of the configured OpenAI-compatible endpoint (`/v1/models`), newest first."""
    models = await service.list_openai_models(settings, max_results=max_results)
    return OpenAIModelPage(models=models, total_count=len(models))


@router.get("/gemini/models", response_model=None)
async def read_gemini_models(admin: AdminUser, max_results: MaxResults = None) -> None:
    """Admin: always 503 `service_unavailable`: this platform has no Gemini provider to list."""
    service.list_gemini_models()
