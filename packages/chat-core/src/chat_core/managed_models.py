"""The managed-model catalogue and who may use which model."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from chat_core._base import CamelModel
from chat_core.clock import utc_now
from chat_core.costs import PricingSnapshot
from chat_core.fields import NOT_NULL, IsoDate, StrictBool, StrictFloat, StrictInt, omittable
from chat_core.identity import User
from chat_core.ids import ManagedModelId, new_managed_model_id
from chat_core.limits import MODALITIES_MAX, ROLES_MAX, DisplayName, RoleName, ShortText

__all__ = [
    "EVERYONE",
    "ManagedModel",
    "ManagedModelCreate",
    "ManagedModelUpdate",
    "ModelProvider",
    "can_use_model",
    "usable_models",
]

EVERYONE = "*"
"""In `allowedAppRoles`, grants the model to every signed-in user."""


class ModelProvider(StrEnum):
    """How a model is reached; stored on the model, never guessed from its name."""

    BEDROCK = "bedrock"
    OPENAI = "openai"
    OFFLINE = "offline"


class _ManagedModelFields(CamelModel):
    model_id: str = Field(min_length=1, max_length=256)
    """The provider's model id, e.g. `us.anthropic.claude-haiku-4-5-20251001-v1:0`."""
    model_name: DisplayName
    provider: ModelProvider
    provider_name: DisplayName
    input_modalities: list[ShortText] = Field(min_length=1, max_length=MODALITIES_MAX)
    output_modalities: list[ShortText] = Field(min_length=1, max_length=MODALITIES_MAX)
    max_input_tokens: StrictInt = Field(ge=1)
    max_output_tokens: StrictInt = Field(ge=1)
    allowed_app_roles: list[RoleName] = Field(default_factory=list, max_length=ROLES_MAX)
    available_to_roles: list[RoleName] = Field(default_factory=list, max_length=ROLES_MAX)
    """Deprecated JWT-role grant, still honoured."""
    enabled: StrictBool = True
    input_price_per_million_tokens: StrictFloat = Field(ge=0)
    output_price_per_million_tokens: StrictFloat = Field(ge=0)
    cache_write_price_per_million_tokens: StrictFloat | None = Field(default=None, ge=0)
    cache_read_price_per_million_tokens: StrictFloat | None = Field(default=None, ge=0)
    is_reasoning_model: StrictBool = False
    knowledge_cutoff_date: IsoDate | None = None
    supports_caching: StrictBool | None = None
    """Defaults to true for Bedrock models only."""


class ManagedModelCreate(_ManagedModelFields):
    """What an admin sends to add a model."""

    @model_validator(mode="after")
    def _default_caching(self) -> ManagedModelCreate:
        if self.supports_caching is None:
            self.supports_caching = self.provider is ModelProvider.BEDROCK
        return self


class ManagedModel(ManagedModelCreate):
    """A model in the catalogue. `id` is ours; `model_id` is the provider's and unique."""

    id: ManagedModelId = Field(default_factory=new_managed_model_id)
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)

    def pricing_snapshot(self) -> PricingSnapshot:
        """The prices to bill a turn with, frozen at the time of the turn."""
        return PricingSnapshot(
            input_price_per_mtok=self.input_price_per_million_tokens,
            output_price_per_mtok=self.output_price_per_million_tokens,
            cache_write_price_per_mtok=self.cache_write_price_per_million_tokens,
            cache_read_price_per_mtok=self.cache_read_price_per_million_tokens,
        )

    def updated(self, changes: ManagedModelUpdate) -> ManagedModel:
        """A copy with `changes` applied and `updated_at` moved on (validated again)."""
        merged = self.model_dump() | changes.model_dump(exclude_unset=True) | {"updated_at": utc_now()}
        return ManagedModel.model_validate(merged)


class ManagedModelUpdate(CamelModel):
    """A partial change to a managed model; only the fields sent are applied.

    The nullable fields (cache prices, knowledge cutoff, caching support) are cleared by `null`; the
    others may be left out but not sent as null.
    """

    model_id: Annotated[str | None, NOT_NULL] = omittable(min_length=1, max_length=256)
    model_name: Annotated[DisplayName | None, NOT_NULL] = omittable()
    provider: Annotated[ModelProvider | None, NOT_NULL] = omittable()
    provider_name: Annotated[DisplayName | None, NOT_NULL] = omittable()
    input_modalities: Annotated[list[ShortText] | None, NOT_NULL] = omittable(
        min_length=1, max_length=MODALITIES_MAX
    )
    output_modalities: Annotated[list[ShortText] | None, NOT_NULL] = omittable(
        min_length=1, max_length=MODALITIES_MAX
    )
    max_input_tokens: Annotated[StrictInt | None, NOT_NULL] = omittable(ge=1)
    max_output_tokens: Annotated[StrictInt | None, NOT_NULL] = omittable(ge=1)
    allowed_app_roles: Annotated[list[RoleName] | None, NOT_NULL] = omittable(max_length=ROLES_MAX)
    available_to_roles: Annotated[list[RoleName] | None, NOT_NULL] = omittable(max_length=ROLES_MAX)
    enabled: Annotated[StrictBool | None, NOT_NULL] = omittable()
    input_price_per_million_tokens: Annotated[StrictFloat | None, NOT_NULL] = omittable(ge=0)
    output_price_per_million_tokens: Annotated[StrictFloat | None, NOT_NULL] = omittable(ge=0)
    cache_write_price_per_million_tokens: StrictFloat | None = Field(default=None, ge=0)
    cache_read_price_per_million_tokens: StrictFloat | None = Field(default=None, ge=0)
    is_reasoning_model: Annotated[StrictBool | None, NOT_NULL] = omittable()
    knowledge_cutoff_date: IsoDate | None = None
    supports_caching: StrictBool | None = None


def can_use_model(model: ManagedModel, user: User) -> bool:
    """A user may use an enabled model granted to everyone (`*`) or to one of their JWT roles.

    Deprecated since 1.1.0 (warns; removed in 2.0.0): it reads JWT roles only. Model access is decided
    by AppRoles, `chat_core.roles.managed_model_allowed`, which also honours these JWT-role grants.
    """
    warnings.warn(
        "can_use_model is deprecated; use chat_core.roles.managed_model_allowed",
        DeprecationWarning,
        stacklevel=2,
    )
    if not model.enabled:
        return False
    granted = set(model.allowed_app_roles) | set(model.available_to_roles)
    return EVERYONE in granted or not granted.isdisjoint(user.roles)


def usable_models(models: Iterable[ManagedModel], user: User) -> list[ManagedModel]:
    """The models `user` may use, in the order given (deprecated with `can_use_model`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        usable = [model for model in models if can_use_model(model, user)]
    warnings.warn(
        "usable_models is deprecated; use chat_core.roles.managed_model_allowed",
        DeprecationWarning,
        stacklevel=2,
    )
    return usable
