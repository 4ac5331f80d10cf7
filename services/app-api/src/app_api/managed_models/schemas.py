"""HTTP shapes of the model catalogue routes (the entities themselves are the original's shapes)."""

from __future__ import annotations

from app_api.schemas import ApiModel
from chat_core.managed_models import ManagedModel

__all__ = ["ManagedModelPage"]


class ManagedModelPage(ApiModel):
    """`ManagedModelsListResponse`."""

    models: list[ManagedModel]
    total_count: int

    @classmethod
    def of(cls, models: list[ManagedModel]) -> ManagedModelPage:
        """All the models with their count."""
        return cls(models=models, total_count=len(models))
