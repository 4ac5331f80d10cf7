import pytest
from pydantic import ValidationError

from chat_core.identity import User
from chat_core.ids import UserId
from chat_core.managed_models import (
    ManagedModel,
    ManagedModelCreate,
    ManagedModelUpdate,
    ModelProvider,
    can_use_model,
    usable_models,
)


def make_model(**overrides: object) -> ManagedModel:
    fields: dict[str, object] = {
        "model_id": "us.anthropic.claude-haiku-4-5",
        "model_name": "Claude Haiku",
        "provider": "bedrock",
        "provider_name": "Anthropic",
        "input_modalities": ["TEXT"],
        "output_modalities": ["TEXT"],
        "max_input_tokens": 200_000,
        "max_output_tokens": 8_192,
        "allowed_app_roles": ["staff"],
        "input_price_per_million_tokens": 1.0,
        "output_price_per_million_tokens": 5.0,
    }
    return ManagedModel.model_validate(fields | overrides)


def user(*roles: str) -> User:
    return User(user_id=UserId("u1"), email="u1@example.com", roles=list(roles))


@pytest.mark.filterwarnings("ignore:.*deprecated:DeprecationWarning")
class TestCanUseModel:
    @pytest.mark.filterwarnings("error")
    def test_is_deprecated(self) -> None:
        with pytest.warns(DeprecationWarning, match="managed_model_allowed"):
            can_use_model(make_model(), user("staff"))
        with pytest.warns(DeprecationWarning, match="managed_model_allowed"):
            usable_models([make_model()], user("staff"))

    def test_role_in_allowed_roles(self) -> None:
        assert can_use_model(make_model(), user("staff"))

    def test_role_not_allowed(self) -> None:
        assert not can_use_model(make_model(), user("student"))

    def test_no_roles_at_all(self) -> None:
        assert not can_use_model(make_model(), user())

    def test_star_means_everyone(self) -> None:
        assert can_use_model(make_model(allowed_app_roles=["*"]), user())

    def test_empty_grant_means_nobody(self) -> None:
        assert not can_use_model(make_model(allowed_app_roles=[]), user("staff", "admin"))

    def test_disabled_model_is_usable_by_nobody(self) -> None:
        assert not can_use_model(make_model(enabled=False, allowed_app_roles=["*"]), user("staff"))

    def test_deprecated_jwt_role_grant_still_counts(self) -> None:
        assert can_use_model(
            make_model(allowed_app_roles=[], available_to_roles=["faculty"]), user("faculty")
        )

    def test_usable_models_filters_in_order(self) -> None:
        a, b, c = (
            make_model(model_id="a"),
            make_model(model_id="b", enabled=False),
            make_model(model_id="c", allowed_app_roles=["*"]),
        )
        assert [m.model_id for m in usable_models([a, b, c], user("staff"))] == ["a", "c"]


class TestManagedModelShapes:
    def test_json_uses_the_original_field_names(self) -> None:
        data = make_model().to_json_dict()
        for name in ("modelId", "modelName", "providerName", "inputModalities", "allowedAppRoles",
                     "inputPricePerMillionTokens", "supportsCaching", "isReasoningModel", "createdAt"):  # fmt: skip
            assert name in data

    def test_caching_defaults_to_true_for_bedrock_only(self) -> None:
        assert make_model().supports_caching is True
        assert make_model(provider="openai").supports_caching is False
        assert make_model(provider="openai", supports_caching=True).supports_caching is True

    @pytest.mark.parametrize(
        "bad",
        [
            {"model_id": ""},
            {"input_modalities": []},
            {"max_input_tokens": 0},
            {"input_price_per_million_tokens": -1},
            {"provider": "gemini"},
        ],
    )
    def test_validation(self, bad: dict[str, object]) -> None:
        with pytest.raises(ValidationError):
            make_model(**bad)

    def test_create_accepts_camel_case(self) -> None:
        created = ManagedModelCreate.model_validate(
            {
                "modelId": "x",
                "modelName": "X",
                "provider": "offline",
                "providerName": "Local",
                "inputModalities": ["TEXT"],
                "outputModalities": ["TEXT"],
                "maxInputTokens": 1,
                "maxOutputTokens": 1,
                "inputPricePerMillionTokens": 0,
                "outputPricePerMillionTokens": 0,
            }
        )
        assert created.provider is ModelProvider.OFFLINE
        assert created.enabled

    def test_update_applies_only_sent_fields(self) -> None:
        model = make_model()
        changed = model.updated(ManagedModelUpdate.model_validate({"enabled": False}))
        assert not changed.enabled
        assert changed.model_name == model.model_name
        assert changed.updated_at >= model.updated_at
        assert changed.id == model.id

    def test_update_is_validated(self) -> None:
        with pytest.raises(ValidationError):
            ManagedModelUpdate.model_validate({"maxInputTokens": 0})

    def test_pricing_snapshot_copies_prices(self) -> None:
        snap = make_model(cache_read_price_per_million_tokens=0.1).pricing_snapshot()
        assert (snap.input_price_per_mtok, snap.output_price_per_mtok, snap.cache_read_price_per_mtok) == (
            1.0,
            5.0,
            0.1,
        )
