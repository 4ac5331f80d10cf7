"""Input checks of the local backend that the ports leave to each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from chat_core.errors import InvalidInputError
from chat_core.ids import ManagedModelId, SessionId, UserId
from chat_core.managed_models import ManagedModel, ManagedModelUpdate, ModelProvider
from chat_core.messages import MessageDraft
from chat_core.sessions import SessionUpdate
from chat_storage import LocalStorageConfig, Storage, open_storage

ALICE = UserId("alice")


@pytest_asyncio.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    async with open_storage(LocalStorageConfig(data_dir=tmp_path / "data")) as opened:
        yield opened


class TestValidation:
    @pytest.mark.asyncio
    async def test_preferences_of_the_wrong_type_are_refused_and_nothing_changes(
        self, storage: Storage
    ) -> None:
        await storage.sessions.update(
            ALICE, SessionId("s-1"), SessionUpdate(preferences={"lastTemperature": 0.2})
        )
        with pytest.raises(InvalidInputError) as caught:
            await storage.sessions.update(
                ALICE, SessionId("s-1"), SessionUpdate(preferences={"lastTemperature": "hot"})
            )
        assert caught.value.field == "preferences"
        with pytest.raises(InvalidInputError):
            await storage.sessions.record_turn(
                ALICE, SessionId("s-1"), at=datetime.now(UTC), preferences={"enabledTools": 5}
            )
        stored = await storage.sessions.get(ALICE, SessionId("s-1"))
        assert stored is not None
        assert (stored.preferences.last_temperature, stored.message_count) == (0.2, 0)

    @pytest.mark.asyncio
    async def test_user_search_needs_a_prefix_and_a_sane_limit(self, storage: Storage) -> None:
        for prefix, limit in [("", 10), ("   ", 10), ("x" * 201, 10), ("a", 0), ("a", 101)]:
            with pytest.raises(InvalidInputError):
                await storage.users.search(prefix, limit=limit)

    @pytest.mark.asyncio
    async def test_file_listing_options_are_checked_at_run_time(self, storage: Storage) -> None:
        options: list[dict[str, Any]] = [{"sort_by": "name"}, {"sort_order": "up"}, {"status": "pending"}]
        for option in options:
            with pytest.raises(InvalidInputError):
                await storage.files.list(ALICE, **option)

    @pytest.mark.asyncio
    async def test_appending_too_many_messages_at_once_is_refused(self, storage: Storage) -> None:
        draft = MessageDraft.model_validate({"role": "user", "content": [{"type": "text", "text": "x"}]})
        with pytest.raises(InvalidInputError):
            await storage.messages.append(ALICE, SessionId("s-1"), [draft] * 101)
        assert (await storage.messages.list(ALICE, SessionId("s-1"))).items == []

    @pytest.mark.asyncio
    async def test_an_invalid_managed_model_update_is_refused(self, storage: Storage) -> None:
        model = await storage.managed_models.create(
            ManagedModel(
                model_id="m-1",
                model_name="M",
                provider=ModelProvider.OFFLINE,
                provider_name="Local",
                input_modalities=["text"],
                output_modalities=["text"],
                max_input_tokens=10,
                max_output_tokens=10,
                input_price_per_million_tokens=0,
                output_price_per_million_tokens=0,
            )
        )
        bad = ManagedModelUpdate.model_construct(max_input_tokens=0)
        with pytest.raises(InvalidInputError):
            await storage.managed_models.update(ManagedModelId(model.id), bad)
        assert await storage.managed_models.get(model.id) == model
