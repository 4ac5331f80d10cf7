"""Model providers of a turn: Bedrock, OpenAI-compatible endpoints and the offline extractive model."""

from chat_agent.models.base import AttachmentText, Grounding, ModelFactory, ModelRequest, Passage
from chat_agent.models.errors import as_chat_error
from chat_agent.models.offline import OfflineExtractiveModel
from chat_agent.models.providers import ProviderModels

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
