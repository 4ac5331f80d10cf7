"""What `app-api seed` (run by `make dev`) puts in storage: managed models, system roles, tools.

Seeding adds each model whose `modelId` is missing and leaves every existing one exactly as it is, so
running it again (every `make dev` does) never undoes an administrator's edits. The offline model is
enabled, so turns work with no cloud account; the Bedrock and OpenAI-compatible entries are disabled
until an administrator has configured their provider and enables them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app_api.config import Settings
from chat_agent.tools.registry import ToolRegistry
from chat_core.managed_models import EVERYONE, ManagedModel, ManagedModelCreate, ModelProvider
from chat_core.ports import AppRoleRepository, ManagedModelRepository, ToolRepository
from chat_core.roles import DEFAULT_ROLE_ID, SYSTEM_ADMIN_ROLE_ID, WILDCARD, AppRole, EffectivePermissions
from chat_http.secrets import blob_signing_secret
from chat_storage import AwsStorageConfig, open_storage

__all__ = [
    "SEED_MODELS",
    "SeedResult",
    "seed_catalogue",
    "seed_roles",
    "seed_storage",
    "seed_tools",
    "system_roles",
]

_MODALITIES = ["text", "image", "document"]

SEED_MODELS: tuple[ManagedModelCreate, ...] = (
    ManagedModelCreate(
        model_id="offline-extractive",
        model_name="Offline extractive (no network)",
        provider=ModelProvider.OFFLINE,
        provider_name="Offline",
        input_modalities=_MODALITIES,
        output_modalities=["text"],
        max_input_tokens=200_000,
        max_output_tokens=4096,
        allowed_app_roles=[EVERYONE],
        enabled=True,
        input_price_per_million_tokens=0.0,
        output_price_per_million_tokens=0.0,
    ),
    ManagedModelCreate(
        model_id="us.anthropic.claude-haiku-4-5-20251001-v1:0",
        model_name="Claude Haiku 4.5 (Bedrock)",
        provider=ModelProvider.BEDROCK,
        provider_name="Amazon Bedrock",
        input_modalities=_MODALITIES,
        output_modalities=["text"],
        max_input_tokens=200_000,
        max_output_tokens=8192,
        allowed_app_roles=[EVERYONE],
        enabled=False,
        input_price_per_million_tokens=1.0,
        output_price_per_million_tokens=5.0,
        cache_write_price_per_million_tokens=1.25,
        cache_read_price_per_million_tokens=0.1,
    ),
    ManagedModelCreate(
        model_id="gpt-4o-mini",
        model_name="GPT-4o mini (OpenAI-compatible)",
        provider=ModelProvider.OPENAI,
        provider_name="OpenAI-compatible",
        input_modalities=["text", "image"],
        output_modalities=["text"],
        max_input_tokens=128_000,
        max_output_tokens=16_384,
        allowed_app_roles=[EVERYONE],
        enabled=False,
        input_price_per_million_tokens=0.15,
        output_price_per_million_tokens=0.6,
    ),
)
"""What a fresh development catalogue holds."""


@dataclass(frozen=True, slots=True)
class SeedResult:
    """Which seed models were added and which were already there (and left untouched)."""

    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    roles_created: list[str] = field(default_factory=list)
    roles_kept: list[str] = field(default_factory=list)
    tools_created: list[str] = field(default_factory=list)
    tools_kept: list[str] = field(default_factory=list)


def system_roles(settings: Settings) -> tuple[AppRole, ...]:
    """`system_admin` (every tool and model; mapped from `CHAT_SYSTEM_ADMIN_ROLES`) and `default`.

    `default` applies to callers whose JWT roles map to no role: it grants nothing by itself (models
    granted to `*` and public tools stay usable by everyone) and names the basic quota tier.
    """
    return (
        AppRole(
            role_id=SYSTEM_ADMIN_ROLE_ID,
            display_name="System administrator",
            description="Every tool and every model.",
            jwt_role_mappings=sorted(settings.system_admin_roles),
            granted_tools=[WILDCARD],
            granted_models=[WILDCARD],
            effective_permissions=EffectivePermissions(tools=[WILDCARD], models=[WILDCARD]),
            priority=1000,
            is_system_role=True,
        ),
        AppRole(
            role_id=DEFAULT_ROLE_ID,
            display_name="Default",
            description="Anyone whose identity-provider roles map to no other role.",
            quota_tier="tier_basic",
            effective_permissions=EffectivePermissions(quota_tier="tier_basic"),
            is_system_role=True,
        ),
    )


async def seed_roles(roles: AppRoleRepository, entries: tuple[AppRole, ...], result: SeedResult) -> None:
    """Add each system role that is missing; never change one that exists.

    Raises:
        ConflictError: another process added the same role between the check and the write.
        UnavailableError: the role store cannot be reached (the command fails; nothing is skipped).
    """
    for role in entries:
        if await roles.get(role.role_id) is not None:
            result.roles_kept.append(role.role_id)
            continue
        await roles.create(role)
        result.roles_created.append(role.role_id)


async def seed_tools(tools: ToolRepository, result: SeedResult) -> None:
    """Catalogue the tools the platform runs that the catalogue lacks (`POST /admin/tools/sync`).

    Entries that exist, and entries of tools no longer registered, are left alone (the sync route
    deprecates those); a failure fails the command.
    """
    from app_api.tools.service import sync_catalogue

    synced = await sync_catalogue(tools, ToolRegistry(), None, dry_run=False, by=None, deprecate=False)
    result.tools_created.extend(item.tool_id for item in synced.discovered)
    result.tools_kept.extend(synced.unchanged)


async def seed_catalogue(
    models: ManagedModelRepository, entries: tuple[ManagedModelCreate, ...] = SEED_MODELS
) -> SeedResult:
    """Add every entry whose `modelId` is not in the catalogue; never change one that is.

    Raises:
        ConflictError: another process added the same model between the check and the write.
    """
    result = SeedResult()
    for entry in entries:
        if await models.get_by_model_id(entry.model_id) is not None:
            result.kept.append(entry.model_id)
            continue
        await models.create(ManagedModel.model_validate(entry.model_dump()))
        result.created.append(entry.model_id)
    return result


async def seed_storage(settings: Settings, *, provision: bool = False) -> SeedResult:
    """Open the configured storage and seed its catalogue.

    Args:
        settings: the service's settings (storage backend, data directory, AWS endpoint).
        provision: on the aws backend, first create the tables and the bucket (a moto server or a
            local stack starts empty; real AWS is provisioned by its own tooling).
    """
    config = settings.storage_config(blob_signing_secret(settings))
    if provision and isinstance(config, AwsStorageConfig):
        from chat_storage.aws.provision import provision as provision_aws

        await provision_aws(config)
    async with open_storage(config) as storage:
        result = await seed_catalogue(storage.managed_models)
        await seed_roles(storage.roles, system_roles(settings), result)
        await seed_tools(storage.tools, result)
        return result
