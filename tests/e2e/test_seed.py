"""`app-api seed`: the development catalogue is added once and an administrator's edits are kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from e2e_kit import ROOT, clean_env, free_port

from app_api.config import Settings
from app_api.seed import SEED_MODELS, seed_storage
from chat_core.managed_models import ManagedModelUpdate, ModelProvider
from chat_storage import LocalStorageConfig, open_storage


@pytest.mark.asyncio
async def test_seeding_adds_the_catalogue_once_and_keeps_admin_edits(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    first = await seed_storage(settings)
    assert first.created == [entry.model_id for entry in SEED_MODELS]
    assert first.kept == []
    assert (first.tools_created, first.tools_kept) == (["calculator", "current_time"], [])

    async with open_storage(LocalStorageConfig(data_dir=tmp_path)) as storage:
        models = {model.model_id: model for model in await storage.managed_models.list()}
        assert {model.provider for model in models.values()} == set(ModelProvider)
        enabled = {model_id for model_id, model in models.items() if model.enabled}
        assert enabled == {"offline-extractive"}
        offline = models["offline-extractive"]
        assert offline.allowed_app_roles == ["*"]
        assert offline.input_price_per_million_tokens == offline.output_price_per_million_tokens == 0
        # An administrator disables the offline model, enables Bedrock at a new price, deletes the other.
        bedrock = next(model for model in models.values() if model.provider is ModelProvider.BEDROCK)
        openai = next(model for model in models.values() if model.provider is ModelProvider.OPENAI)
        await storage.managed_models.update(offline.id, ManagedModelUpdate(enabled=False))
        await storage.managed_models.update(
            bedrock.id, ManagedModelUpdate(enabled=True, input_price_per_million_tokens=0.8)
        )
        await storage.managed_models.delete(openai.id)

    second = await seed_storage(settings)
    assert second.created == [openai.model_id]  # only what is missing comes back
    assert (second.tools_created, second.tools_kept) == ([], ["calculator", "current_time"])
    assert second.kept == [offline.model_id, bedrock.model_id]
    async with open_storage(LocalStorageConfig(data_dir=tmp_path)) as storage:
        after = {model.model_id: model for model in await storage.managed_models.list()}
    assert after["offline-extractive"].enabled is False
    assert after[bedrock.model_id].enabled is True
    assert after[bedrock.model_id].input_price_per_million_tokens == 0.8
    assert after[openai.model_id].enabled is False


def test_seed_command_refuses_production(tmp_path: Path) -> None:
    env = clean_env(
        tmp_path,
        CHAT_ENV="production",
        CHAT_DATA_DIR=str(tmp_path),
        CHAT_OIDC_ISSUER="https://id.example",
        CHAT_OIDC_AUDIENCE="chat",
        CHAT_OIDC_JWKS_URL="https://id.example/jwks",
    )
    result = subprocess.run(
        [sys.executable, "-m", "app_api", "seed"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "not available when CHAT_ENV=production" in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing was opened or written


def test_a_failing_seed_fails_the_command_with_a_readable_message(tmp_path: Path) -> None:
    """Storage that cannot be reached (nothing listens on the AWS endpoint): the console script exits
    non-zero within its storage deadline and says why in one line, instead of reporting a seeded catalogue."""
    env = clean_env(
        tmp_path,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        CHAT_DATA_DIR=str(tmp_path / "data"),
        CHAT_STORAGE="aws",
        CHAT_AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",
        CHAT_AWS_CONNECT_TIMEOUT="0.5",
        CHAT_AWS_MAX_ATTEMPTS="1",
        CHAT_AWS_DEADLINE="2",
    )
    script = Path(sys.executable).with_name("app-api")
    result = subprocess.run(
        [str(script), "seed"], env=env, cwd=ROOT, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode != 0
    assert "Model catalogue" not in result.stdout
    assert "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert message.startswith("app-api seed failed:"), message
    assert "Storage" in message
    assert len(message.splitlines()) == 1
