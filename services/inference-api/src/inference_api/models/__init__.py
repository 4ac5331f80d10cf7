"""Model providers of a turn: Bedrock, OpenAI-compatible endpoints and the offline extractive model."""

from inference_api.models.base import AttachmentText, Grounding, ModelFactory, ModelRequest, Passage
from inference_api.models.errors import as_chat_error
from inference_api.models.offline import OfflineExtractiveModel
from inference_api.models.providers import ProviderModels

__all__ = [
    "AttachmentText",
    "Grounding",
    "ModelFactory",
    "ModelRequest",
    "OfflineExtractiveModel",
    "Passage",
    "ProviderModels",
    "as_chat_error",
]
