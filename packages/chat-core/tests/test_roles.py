"""The permission rule: each clause has a test that fails if the clause changes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chat_core.errors import PermissionDeniedError
from chat_core.identity import User
from chat_core.ids import UserId
from chat_core.managed_models import ManagedModel
from chat_core.roles import (
    PUBLIC_GRANT,
    AppRole,
    AppRoleCreate,
    AppRoleUpdate,
    UserPermissions,
    effective_permissions,
    granted_by,
    managed_model_allowed,
    model_allowed,
    resolve_permissions,
    select_tools,
    tool_allowed,
)
from chat_core.tools import ToolDefinition, ToolStatus, offered_tools


def role(role_id: str, **fields: object) -> AppRole:
    return AppRole.model_validate({"role_id": role_id, "display_name": role_id, **fields})


def user(*roles: str) -> User:
    return User(user_id=UserId("u-1"), email="u@example.com", roles=list(roles))


CATALOGUE = {
    "default": role("default", granted_models=["basic"], quota_tier="tier_basic", is_system_role=True),
    "staff": role(
        "staff",
        jwt_role_mappings=["Staff"],
        granted_models=["m-staff"],
        granted_tools=["calculator"],
        quota_tier="tier_staff",
        priority=10,
    ),
    "research": role(
        "research",
        jwt_role_mappings=["Researcher"],
        inherits_from=["staff"],
        granted_tools=["current_time"],
        quota_tier="tier_research",
        priority=50,
    ),
    "admins": role(
        "admins", jwt_role_mappings=["Admin"], granted_models=["*"], granted_tools=["*"], priority=900
    ),
    "off": role("off", jwt_role_mappings=["Staff"], granted_models=["m-off"], enabled=False),
}


def allowed(
    permissions: UserPermissions,
    model_id: str,
    *,
    allowed_app_roles: list[str] | None = None,
    available_to_roles: list[str] | None = None,
    enabled: bool = True,
) -> bool:
    return model_allowed(
        permissions,
        model_id=model_id,
        enabled=enabled,
        allowed_app_roles=allowed_app_roles or [],
        available_to_roles=available_to_roles or [],
    )


class TestResolve:
    def test_jwt_mapping_grants_the_role(self) -> None:
        found = resolve_permissions(user("Staff"), CATALOGUE)
        assert found.app_roles == ["staff"]
        assert found.models == ["m-staff"]
        assert found.tools == ["calculator"]

    def test_mapping_removed_means_the_role_no_longer_applies(self) -> None:
        catalogue = CATALOGUE | {"staff": CATALOGUE["staff"].model_copy(update={"jwt_role_mappings": []})}
        assert resolve_permissions(user("Staff"), catalogue).app_roles == ["default"]

    def test_no_match_gets_the_default_role(self) -> None:
        found = resolve_permissions(user("Nobody"), CATALOGUE)
        assert (found.app_roles, found.models, found.quota_tier) == (["default"], ["basic"], "tier_basic")

    def test_default_is_not_added_when_a_role_matches(self) -> None:
        assert "basic" not in resolve_permissions(user("Staff"), CATALOGUE).models

    def test_disabled_default_gives_nothing(self) -> None:
        catalogue = CATALOGUE | {"default": CATALOGUE["default"].model_copy(update={"enabled": False})}
        found = resolve_permissions(user("Nobody"), catalogue)
        assert (found.app_roles, found.models, found.tools) == ([], [], [])

    def test_disabled_role_grants_nothing(self) -> None:
        assert "m-off" not in resolve_permissions(user("Staff"), CATALOGUE).models

    def test_inheritance_adds_the_parents_grants(self) -> None:
        found = resolve_permissions(user("Researcher"), CATALOGUE)
        assert found.tools == ["calculator", "current_time"]
        assert found.models == ["m-staff"]

    def test_inheritance_is_one_level(self) -> None:
        catalogue = CATALOGUE | {"deep": role("deep", jwt_role_mappings=["Deep"], inherits_from=["research"])}
        found = resolve_permissions(user("Deep"), catalogue)
        assert found.tools == ["current_time"]  # research's own, not what research inherits

    def test_disabled_parent_is_not_inherited(self) -> None:
        catalogue = CATALOGUE | {"staff": CATALOGUE["staff"].model_copy(update={"enabled": False})}
        assert resolve_permissions(user("Researcher"), catalogue).tools == ["current_time"]

    def test_union_over_roles(self) -> None:
        found = resolve_permissions(user("Staff", "Researcher"), CATALOGUE)
        assert found.app_roles == ["research", "staff"]
        assert found.tools == ["calculator", "current_time"]

    def test_wildcard_wins_the_union(self) -> None:
        found = resolve_permissions(user("Staff", "Admin"), CATALOGUE)
        assert found.models == ["*"]
        assert found.tools == ["*"]
        assert found.has_all_models
        assert found.has_all_tools

    def test_quota_tier_from_the_highest_priority(self) -> None:
        assert resolve_permissions(user("Staff", "Researcher"), CATALOGUE).quota_tier == "tier_research"
        lower = CATALOGUE | {"research": CATALOGUE["research"].model_copy(update={"priority": 1})}
        assert resolve_permissions(user("Staff", "Researcher"), lower).quota_tier == "tier_staff"

    def test_highest_priority_without_tier_falls_to_the_next(self) -> None:
        assert resolve_permissions(user("Admin", "Staff"), CATALOGUE).quota_tier == "tier_staff"

    def test_effective_permissions_of_a_role(self) -> None:
        found = effective_permissions(CATALOGUE["research"], CATALOGUE)
        assert (found.tools, found.models, found.quota_tier) == (
            ["calculator", "current_time"],
            ["m-staff"],
            "tier_research",
        )


class TestModels:
    def test_granted_model(self) -> None:
        found = resolve_permissions(user("Staff"), CATALOGUE)
        assert allowed(found, "m-staff")
        assert not allowed(found, "m-other")

    def test_wildcard_grants_every_model(self) -> None:
        assert allowed(resolve_permissions(user("Admin"), CATALOGUE), "anything")

    def test_disabled_model_is_refused_even_with_wildcard(self) -> None:
        assert not allowed(resolve_permissions(user("Admin"), CATALOGUE), "anything", enabled=False)

    def test_allowed_app_roles_on_the_model(self) -> None:
        found = resolve_permissions(user("Staff"), CATALOGUE)
        assert allowed(found, "m-x", allowed_app_roles=["staff"])
        assert not allowed(found, "m-x", allowed_app_roles=["research"])
        assert allowed(found, "m-x", allowed_app_roles=["*"])

    def test_legacy_jwt_role_in_allowed_app_roles(self) -> None:
        found = resolve_permissions(user("staff_jwt"), CATALOGUE)
        assert allowed(found, "m-x", allowed_app_roles=["staff_jwt"])

    def test_a_name_that_is_an_app_role_is_not_read_as_a_jwt_role(self) -> None:
        found = resolve_permissions(user("research"), CATALOGUE)  # JWT role spelled like an AppRole id
        assert not allowed(found, "m-x", allowed_app_roles=["research"])

    def test_available_to_roles_is_honoured(self) -> None:
        assert allowed(resolve_permissions(user("Faculty"), CATALOGUE), "m-x", available_to_roles=["Faculty"])


def tool(tool_id: str, **fields: object) -> ToolDefinition:
    return ToolDefinition.model_validate({"tool_id": tool_id, "display_name": tool_id, **fields})


OFFERED = {
    "calculator": tool("calculator"),
    "current_time": tool("current_time"),
    "clock": tool("clock", is_public=True),
    "retired": tool("retired", is_public=True, status=ToolStatus.DEPRECATED),
}


class TestTools:
    def test_requested_and_granted(self) -> None:
        found = resolve_permissions(user("Staff"), CATALOGUE)
        assert select_tools(found, ["calculator", "calculator"], OFFERED) == ["calculator"]
        assert select_tools(found, None, OFFERED) == []

    def test_ungranted_tool_is_refused_not_dropped(self) -> None:
        found = resolve_permissions(user("Staff"), CATALOGUE)
        with pytest.raises(PermissionDeniedError) as raised:
            select_tools(found, ["calculator", "current_time"], OFFERED)
        assert raised.value.field == "enabled_tools"
        assert raised.value.detail == {"denied": ["current_time"]}

    def test_public_tools_need_no_grant(self) -> None:
        found = resolve_permissions(user("Nobody"), CATALOGUE)
        assert select_tools(found, ["clock"], OFFERED) == ["clock"]
        assert granted_by(found, OFFERED["clock"]) == [PUBLIC_GRANT]

    def test_wildcard_grants_every_offered_tool(self) -> None:
        admin = resolve_permissions(user("Admin"), CATALOGUE)
        assert select_tools(admin, ["calculator", "current_time"], OFFERED) == ["calculator", "current_time"]
        assert granted_by(admin, OFFERED["calculator"]) == ["admins"]

    def test_a_tool_the_catalogue_does_not_offer_is_refused_even_with_wildcard(self) -> None:
        admin = resolve_permissions(user("Admin"), CATALOGUE)
        with pytest.raises(PermissionDeniedError):
            select_tools(admin, ["shell"], OFFERED)

    def test_an_inactive_tool_is_refused_even_when_public_or_granted(self) -> None:
        admin = resolve_permissions(user("Admin"), CATALOGUE)
        assert not tool_allowed(admin, OFFERED["retired"])
        assert granted_by(admin, OFFERED["retired"]) == []
        with pytest.raises(PermissionDeniedError):
            select_tools(admin, ["retired"], OFFERED)

    def test_granted_by_lists_public_and_the_roles(self) -> None:
        found = resolve_permissions(user("Admin", "Staff"), CATALOGUE)
        assert granted_by(found, OFFERED["clock"]) == [PUBLIC_GRANT, "admins", "staff"]
        assert granted_by(resolve_permissions(user("Nobody"), CATALOGUE), OFFERED["calculator"]) == []

    def test_offered_tools_are_the_runnable_entries(self) -> None:
        entries = [*OFFERED.values(), tool("unknown_tool")]
        assert sorted(offered_tools(entries, {"calculator", "clock", "gone"})) == ["calculator", "clock"]


class TestManagedModelRule:
    def test_stored_model_goes_through_the_same_rule(self) -> None:
        model = ManagedModel.model_validate(
            {"model_id": "m-staff", "model_name": "M", "provider": "bedrock", "provider_name": "B",
             "input_modalities": ["text"], "output_modalities": ["text"], "max_input_tokens": 1,
             "max_output_tokens": 1, "allowed_app_roles": [], "input_price_per_million_tokens": 0,
             "output_price_per_million_tokens": 0}
        )  # fmt: skip
        assert managed_model_allowed(resolve_permissions(user("Staff"), CATALOGUE), model)
        assert not managed_model_allowed(resolve_permissions(user("Nobody"), CATALOGUE), model)
        disabled = model.model_copy(update={"enabled": False})
        assert not managed_model_allowed(resolve_permissions(user("Staff"), CATALOGUE), disabled)


class TestShapes:
    def test_role_id_format(self) -> None:
        with pytest.raises(ValidationError):
            AppRoleCreate(role_id="Bad-Id", display_name="x")
        with pytest.raises(ValidationError):
            AppRoleCreate(role_id="ab", display_name="x")
        assert AppRoleCreate(role_id="abc_1", display_name="x").priority == 0

    def test_priority_bounds(self) -> None:
        with pytest.raises(ValidationError):
            AppRoleCreate(role_id="abc", display_name="x", priority=1000)

    def test_update_refuses_nulls_and_applies_fields(self) -> None:
        with pytest.raises(ValidationError):
            AppRoleUpdate.model_validate({"displayName": None})
        changed = CATALOGUE["staff"].updated(AppRoleUpdate.model_validate({"priority": 7, "enabled": False}))
        assert (changed.priority, changed.enabled, changed.display_name) == (7, False, "staff")
        assert changed.updated_at >= CATALOGUE["staff"].updated_at
