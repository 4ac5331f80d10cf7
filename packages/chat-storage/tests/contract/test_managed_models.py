from __future__ import annotations

from typing import Any

import pytest

from chat_core.errors import ConflictError
from chat_core.ids import ManagedModelId
from chat_core.managed_models import ManagedModel, ManagedModelUpdate, ModelProvider
from chat_storage import Storage


def make_model(model_id: str, model_name: str, **changes: Any) -> ManagedModel:
    fields: dict[str, Any] = {
        "model_id": model_id,
        "model_name": model_name,
        "provider": ModelProvider.BEDROCK,
        "provider_name": "Anthropic",
        "input_modalities": ["text"],
        "output_modalities": ["text"],
        "max_input_tokens": 200_000,
        "max_output_tokens": 8_192,
        "allowed_app_roles": ["*"],
        "input_price_per_million_tokens": 1.0,
        "output_price_per_million_tokens": 5.0,
    }
    return ManagedModel.model_validate(fields | changes)


class TestCreate:
    @pytest.mark.asyncio
    async def test_created_model_is_found_by_both_ids(self, storage: Storage) -> None:
        model = make_model("us.anthropic.claude-haiku-4-5-20251001-v1:0", "Claude Haiku 4.5")
        assert await storage.managed_models.create(model) == model
        assert await storage.managed_models.get(model.id) == model
        assert await storage.managed_models.get_by_model_id(model.model_id) == model

    @pytest.mark.asyncio
    async def test_taken_model_id_is_a_conflict(self, storage: Storage) -> None:
        await storage.managed_models.create(make_model("m-1", "First"))
        with pytest.raises(ConflictError):
            await storage.managed_models.create(make_model("m-1", "Second"))
        assert [m.model_name for m in await storage.managed_models.list()] == ["First"]


class TestRead:
    @pytest.mark.asyncio
    async def test_missing_model_is_none(self, storage: Storage) -> None:
        assert (
            await storage.managed_models.get(ManagedModelId("00000000-0000-4000-8000-000000000000")) is None
        )
        assert await storage.managed_models.get_by_model_id("nope") is None

    @pytest.mark.asyncio
    async def test_list_is_ordered_by_name(self, storage: Storage) -> None:
        assert await storage.managed_models.list() == []
        for model_id, name in [("m-c", "Charlie"), ("m-a", "Alpha"), ("m-b", "Bravo")]:
            await storage.managed_models.create(make_model(model_id, name))
        assert [m.model_name for m in await storage.managed_models.list()] == ["Alpha", "Bravo", "Charlie"]


class TestUpdate:
    @pytest.mark.asyncio
    async def test_applies_only_the_fields_sent(self, storage: Storage) -> None:
        model = await storage.managed_models.create(make_model("m-1", "Old name"))
        updated = await storage.managed_models.update(
            model.id, ManagedModelUpdate(model_name="New name", enabled=False)
        )
        assert updated is not None
        assert (updated.model_name, updated.enabled, updated.model_id) == ("New name", False, "m-1")
        assert updated.updated_at >= model.updated_at
        assert await storage.managed_models.get(model.id) == updated

    @pytest.mark.asyncio
    async def test_changing_model_id_moves_the_lookup(self, storage: Storage) -> None:
        model = await storage.managed_models.create(make_model("m-1", "Model"))
        await storage.managed_models.update(model.id, ManagedModelUpdate(model_id="m-2"))
        assert await storage.managed_models.get_by_model_id("m-1") is None
        moved = await storage.managed_models.get_by_model_id("m-2")
        assert moved is not None
        assert moved.id == model.id

    @pytest.mark.asyncio
    async def test_taking_another_models_id_is_a_conflict(self, storage: Storage) -> None:
        await storage.managed_models.create(make_model("m-1", "One"))
        second = await storage.managed_models.create(make_model("m-2", "Two"))
        with pytest.raises(ConflictError):
            await storage.managed_models.update(second.id, ManagedModelUpdate(model_id="m-1"))
        unchanged = await storage.managed_models.get(second.id)
        assert unchanged is not None
        assert unchanged.model_id == "m-2"

    @pytest.mark.asyncio
    async def test_missing_model_is_none(self, storage: Storage) -> None:
        missing = ManagedModelId("00000000-0000-4000-8000-000000000000")
        assert await storage.managed_models.update(missing, ManagedModelUpdate(model_name="X")) is None


class TestDelete:
    @pytest.mark.asyncio
    async def test_deletes_once_and_frees_the_model_id(self, storage: Storage) -> None:
        model = await storage.managed_models.create(make_model("m-1", "Model"))
        assert await storage.managed_models.delete(model.id) is True
        assert await storage.managed_models.delete(model.id) is False
        assert await storage.managed_models.get_by_model_id("m-1") is None
        await storage.managed_models.create(make_model("m-1", "Reused"))
