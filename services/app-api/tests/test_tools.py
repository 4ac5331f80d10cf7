"""`/tools` and `/admin/tools` over HTTP on both backends: the caller's tools and preferences, the
catalogue's administration, role grants, and the registry sync.

The live apps are shared by the session and the catalogue only holds the platform's two tools, so
tests that change an entry put it back (`catalogue` fixture); role ids and JWT roles are unique.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app_api.config import Settings
from chat_agent.tools.registry import ToolRegistry
from chat_core.tools import ToolDefinition, ToolStatus
from chat_http.auth import mint_dev_token
from chat_storage import open_storage

ErrorCheck = Callable[[httpx.Response, int, str], dict[str, Any]]


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def catalogue(api: Any) -> Iterator[Any]:
    """An administrator, with the registry synced into the catalogue and every entry put back after."""
    admin = api("root", roles=["admin"])
    synced = admin.post("/admin/tools/sync", params={"dry_run": "false"})
    assert synced.status_code == 200, synced.text
    yield admin
    admin.post("/admin/tools/sync", params={"dry_run": "false"}).raise_for_status()
    for tool in ToolRegistry().registered():
        entry = tool.catalogue_entry().to_json_dict()
        fields = ("displayName", "description", "category", "icon", "protocol", "status", "isPublic",
                  "enabledByDefault")  # fmt: skip
        admin.put(
            f"/admin/tools/{tool.tool_id}", json={name: entry[name] for name in fields}
        ).raise_for_status()


def tool_ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [tool["toolId"] for tool in response.json()["tools"]]


class TestUserTools:
    def test_public_tools_are_listed_with_their_state(self, catalogue: Any, api: Any) -> None:
        someone = api("plain")
        body = someone.get("/tools/").json()
        assert someone.get("/tools").json() == body  # both spellings are routes
        tools = {tool["toolId"]: tool for tool in body["tools"]}
        assert set(tools) == {"calculator", "current_time"}
        calculator = tools["calculator"]
        assert (calculator["grantedBy"], calculator["userEnabled"], calculator["isEnabled"]) == (
            ["public"],
            None,
            True,
        )
        assert set(calculator) == {
            "toolId", "displayName", "description", "category", "icon", "protocol", "status",
            "requiresOauthProvider", "grantedBy", "enabledByDefault", "userEnabled", "isEnabled",
        }  # fmt: skip
        assert body["categories"] == ["utility"]
        assert isinstance(body["appRolesApplied"], list)

    def test_preferences_merge_and_belong_to_their_user(self, catalogue: Any, api: Any) -> None:
        alice, bob = api("alice"), api("bob")
        saved = alice.put("/tools/preferences", json={"preferences": {"calculator": False}})
        assert saved.status_code == 200, saved.text
        assert saved.json()["preferences"] == {"calculator": False}
        merged = alice.put("/tools/preferences", json={"preferences": {"current_time": False}}).json()
        assert merged["preferences"] == {"calculator": False, "current_time": False}
        mine = {tool["toolId"]: tool for tool in alice.get("/tools/").json()["tools"]}
        assert (mine["calculator"]["userEnabled"], mine["calculator"]["isEnabled"]) == (False, False)
        theirs = {tool["toolId"]: tool for tool in bob.get("/tools/").json()["tools"]}
        assert [tool["userEnabled"] for tool in theirs.values()] == [None, None]
        assert all(tool["isEnabled"] for tool in theirs.values())

    def test_preferences_name_only_usable_tools(
        self, catalogue: Any, api: Any, check_error: ErrorCheck
    ) -> None:
        catalogue.put("/admin/tools/calculator", json={"isPublic": False}).raise_for_status()
        someone = api("plain")
        assert tool_ids(someone.get("/tools/")) == ["current_time"]
        refused = check_error(
            someone.put("/tools/preferences", json={"preferences": {"calculator": True}}), 403, "forbidden"
        )
        assert (refused["field"], refused["detail"]) == ("preferences", {"denied": ["calculator"]})
        check_error(
            someone.put("/tools/preferences", json={"preferences": {"shell": True}}), 403, "forbidden"
        )
        bad = check_error(
            someone.put("/tools/preferences", json={"preferences": {"Bad-Id": True}}), 422, "validation_error"
        )
        assert bad["field"] is not None
        assert bad["field"].startswith("preferences")

    def test_a_role_grant_shows_the_tool_to_its_members_only(self, catalogue: Any, api: Any) -> None:
        catalogue.put("/admin/tools/calculator", json={"isPublic": False}).raise_for_status()
        role_id, jwt_role = unique("calc"), unique("JCalc")
        made = catalogue.post(
            "/admin/roles/",
            json={"roleId": role_id, "displayName": "C", "jwtRoleMappings": [jwt_role], "grantedTools": ["calculator"]},
        )  # fmt: skip
        assert made.status_code == 201, made.text
        member, outsider = api("member", roles=[jwt_role]), api("outsider", roles=["Other"])
        tools = {tool["toolId"]: tool for tool in member.get("/tools/").json()["tools"]}
        assert tools["calculator"]["grantedBy"] == [role_id]
        assert member.get("/tools/").json()["appRolesApplied"] == [role_id]
        assert "calculator" not in tool_ids(outsider.get("/tools/"))
        mine = member.get("/tools/my-permissions").json()
        assert mine == {"userId": member.user_id, "allowedTools": ["calculator"], "hasWildcard": False,
                        "appRoles": [role_id]}  # fmt: skip

    def test_catalog_lists_entries_not_disabled(self, catalogue: Any, api: Any) -> None:
        someone = api("plain")
        listed = someone.get("/tools/catalog").json()
        assert [tool["toolId"] for tool in listed["tools"]] == ["calculator", "current_time"]
        assert listed["total"] == 2
        assert set(listed["tools"][0]) == {
            "toolId",
            "name",
            "description",
            "category",
            "isGatewayTool",
            "icon",
        }
        assert {tool["category"] for tool in listed["tools"]} == {"utilities"}  # the legacy categories
        assert someone.get("/tools/catalog", params={"category": "utilities"}).json()["total"] == 2
        assert someone.get("/tools/catalog", params={"category": "search"}).json()["tools"] == []
        catalogue.delete("/admin/tools/calculator")
        assert [tool["toolId"] for tool in someone.get("/tools/catalog").json()["tools"]] == ["current_time"]


class TestAdminTools:
    def test_read_update_disable_remove_and_sync_back(
        self, catalogue: Any, api: Any, check_error: ErrorCheck
    ) -> None:
        admin = catalogue
        listed = admin.get("/admin/tools/").json()
        assert admin.get("/admin/tools").json()["total"] == listed["total"]
        assert {"calculator", "current_time"} <= {tool["toolId"] for tool in listed["tools"]}
        changed = admin.put("/admin/tools/current_time", json={"displayName": "Clock", "icon": "heroClock"})
        assert changed.status_code == 200, changed.text
        assert (changed.json()["displayName"], changed.json()["updatedBy"]) == ("Clock", admin.user_id)
        assert admin.delete("/admin/tools/current_time", params={"hard": "false"}).status_code == 204
        assert admin.get("/admin/tools/current_time").json()["status"] == "disabled"
        assert "current_time" not in tool_ids(api("plain").get("/tools/"))
        disabled = admin.get("/admin/tools/", params={"status": "disabled"}).json()["tools"]
        assert "current_time" in [tool["toolId"] for tool in disabled]
        assert admin.delete("/admin/tools/current_time", params={"hard": "true"}).status_code == 204
        check_error(admin.get("/admin/tools/current_time"), 404, "not_found")
        dry = admin.post("/admin/tools/sync", params={"dry_run": "true"}).json()
        assert dry["dryRun"] is True
        assert [item["tool_id"] for item in dry["discovered"]] == ["current_time"]
        assert dry["discovered"][0]["action"] == "create"
        check_error(admin.get("/admin/tools/current_time"), 404, "not_found")  # a dry run changes nothing
        done = admin.post("/admin/tools/sync", params={"dry_run": "false"}).json()
        assert (done["dryRun"], [item["tool_id"] for item in done["discovered"]]) == (False, ["current_time"])
        assert admin.get("/admin/tools/current_time").json()["isPublic"] is True

    def test_only_tools_the_platform_runs_can_be_catalogued(
        self, catalogue: Any, check_error: ErrorCheck
    ) -> None:
        admin = catalogue
        body = {"toolId": "web_search", "displayName": "Web", "description": "d", "category": "search",
                "protocol": "local", "status": "active", "isPublic": False, "enabledByDefault": False,
                "requiresOauthProvider": None}  # fmt: skip
        unknown = check_error(admin.post("/admin/tools/", json=body), 422, "validation_error")
        assert (unknown["field"], unknown["detail"]) == (
            "toolId",
            {"available": ["calculator", "current_time"]},
        )
        taken = body | {"toolId": "calculator", "category": "utility"}
        check_error(admin.post("/admin/tools/", json=taken), 409, "conflict")
        remote = check_error(
            admin.put("/admin/tools/calculator", json={"protocol": "mcp_external"}), 422, "validation_error"
        )
        assert remote["field"] == "protocol"
        check_error(admin.put("/admin/tools/nope_tool", json={"displayName": "x"}), 404, "not_found")
        check_error(admin.put("/admin/tools/calculator", json={"displayName": None}), 422, "validation_error")

    def test_creating_an_entry_for_a_registered_tool(self, catalogue: Any, check_error: ErrorCheck) -> None:
        admin = catalogue
        assert admin.delete("/admin/tools/calculator", params={"hard": "true"}).status_code == 204
        body = {"toolId": "calculator", "displayName": "Sums", "description": "Adds up.", "category": "utility",
                "protocol": "local", "status": "active", "isPublic": True, "enabledByDefault": False,
                "requiresOauthProvider": None}  # fmt: skip
        created = admin.post("/admin/tools/", json=body)
        assert created.status_code == 201, created.text
        assert (created.json()["displayName"], created.json()["createdBy"]) == ("Sums", admin.user_id)

    def test_entries_of_tools_the_platform_no_longer_runs(self, catalogue: Any, api: Any, live: Any) -> None:
        orphan = unique("gone")

        async def store() -> None:
            async with open_storage(live.storage_config()) as storage:
                await storage.tools.put(ToolDefinition(tool_id=orphan, display_name="Gone", is_public=True))

        asyncio.run(store())
        someone = api("plain")
        assert orphan not in tool_ids(someone.get("/tools/"))
        assert orphan not in [tool["toolId"] for tool in someone.get("/tools/catalog").json()["tools"]]
        dry = catalogue.post("/admin/tools/sync").json()  # dry_run is the default
        assert {"tool_id": orphan, "action": "mark_deprecated"} in dry["orphaned"]
        catalogue.post("/admin/tools/sync", params={"dry_run": "false"}).raise_for_status()
        assert catalogue.get(f"/admin/tools/{orphan}").json()["status"] == ToolStatus.DEPRECATED
        assert {"tool_id": orphan, "action": "none"} in catalogue.post("/admin/tools/sync").json()["orphaned"]
        assert catalogue.delete(f"/admin/tools/{orphan}", params={"hard": "true"}).status_code == 204


class TestToolRoles:
    def test_set_add_remove_and_inherited_grants(self, catalogue: Any, check_error: ErrorCheck) -> None:
        admin = catalogue
        parent, child, other = unique("tparent"), unique("tchild"), unique("tother")
        for role_id, extra in ((parent, {}), (child, {"inheritsFrom": [parent]}), (other, {})):
            made = admin.post("/admin/roles/", json={"roleId": role_id, "displayName": role_id} | extra)
            assert made.status_code == 201, made.text
        added = admin.post("/admin/tools/current_time/roles/add", json={"appRoleIds": [parent]})
        assert added.status_code == 200, added.text
        roles = {
            item["roleId"]: item for item in admin.get("/admin/tools/current_time/roles").json()["roles"]
        }
        assert roles[parent] == {"roleId": parent, "displayName": parent, "grantType": "direct",
                                 "inheritedFrom": None, "enabled": True}  # fmt: skip
        assert (roles[child]["grantType"], roles[child]["inheritedFrom"]) == ("inherited", parent)
        assert admin.get(f"/admin/roles/{child}").json()["effectivePermissions"]["tools"] == ["current_time"]
        assert parent in admin.get("/admin/tools/current_time").json()["allowedAppRoles"]
        assert other not in admin.get("/admin/tools/current_time").json()["allowedAppRoles"]
        kept = [
            r
            for r in admin.get("/admin/tools/current_time/roles").json()["roles"]
            if r["grantType"] == "direct"
        ]
        wanted = [item["roleId"] for item in kept if item["roleId"] != parent] + [other]
        assert admin.put("/admin/tools/current_time/roles", json={"appRoleIds": wanted}).status_code == 200
        direct = admin.get("/admin/tools/current_time").json()["allowedAppRoles"]
        assert (other in direct, parent in direct) == (True, False)
        assert admin.get(f"/admin/roles/{child}").json()["effectivePermissions"]["tools"] == []
        admin.post("/admin/tools/current_time/roles/remove", json={"appRoleIds": [other]}).raise_for_status()
        assert other not in admin.get("/admin/tools/current_time").json()["allowedAppRoles"]
        missing = check_error(
            admin.post("/admin/tools/current_time/roles/add", json={"appRoleIds": ["no_such_role"]}),
            404, "not_found",
        )  # fmt: skip
        assert missing["field"] == "appRoleIds"
        check_error(admin.get("/admin/tools/nope_tool/roles"), 404, "not_found")

    def test_a_wildcard_grant_is_changed_on_the_role_not_here(
        self, catalogue: Any, check_error: ErrorCheck
    ) -> None:
        everything = unique("tall")
        catalogue.post(
            "/admin/roles/", json={"roleId": everything, "displayName": "All", "grantedTools": ["*"]}
        )
        refused = check_error(
            catalogue.post("/admin/tools/calculator/roles/remove", json={"appRoleIds": [everything]}),
            409, "conflict",
        )  # fmt: skip
        assert refused["detail"] == {"grantsAll": [everything]}
        assert catalogue.get(f"/admin/roles/{everything}").json()["grantedTools"] == ["*"]


class TestAuthorization:
    def test_admin_edits_the_catalogue_but_only_a_system_admin_changes_grants(
        self, start_app: Callable[[Settings], AbstractContextManager[Any]], settings_for: Callable[..., Settings],
        tmp_path: Path, check_error: ErrorCheck,
    ) -> None:  # fmt: skip
        from .conftest import DEV_SECRET  # type: ignore[import-not-found]

        settings = settings_for(
            tmp_path, admin_roles=frozenset({"Admin"}), system_admin_roles=frozenset({"Root"})
        )

        def client(base_url: str, user: str, roles: list[str]) -> httpx.Client:
            token = mint_dev_token(DEV_SECRET, user_id=user, email=f"{user}@example.com", roles=roles)
            return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

        with (
            start_app(settings) as live,
            client(live.base_url, "adm", ["Admin"]) as admin,
            client(live.base_url, "root", ["Admin", "Root"]) as root,
            client(live.base_url, "user", ["Staff"]) as user,
        ):
            assert admin.post("/admin/tools/sync", params={"dry_run": "false"}).status_code == 200
            assert admin.put("/admin/tools/calculator", json={"isPublic": False}).status_code == 200
            root.post(
                "/admin/roles/", json={"roleId": "staffers", "displayName": "S", "jwtRoleMappings": ["Staff"]}
            )
            body = {"appRoleIds": ["staffers"]}
            for method, path in (("PUT", "roles"), ("POST", "roles/add"), ("POST", "roles/remove")):
                check_error(
                    admin.request(method, f"/admin/tools/calculator/{path}", json=body), 403, "forbidden"
                )
            assert "calculator" not in tool_ids(user.get("/tools/"))
            assert root.put("/admin/tools/calculator/roles", json=body).status_code == 200
            assert "calculator" in tool_ids(user.get("/tools/"))  # the change applies at once here
            check_error(user.get("/admin/tools/"), 403, "forbidden")


def test_the_catalogue_lists_only_tools_the_inference_service_runs(catalogue: Any, live: Any) -> None:
    """Every id the catalogue offers resolves to a strands tool in the registry turns run with."""
    registry = ToolRegistry()
    listed = [tool["toolId"] for tool in catalogue.get("/admin/tools/").json()["tools"]]
    offered = [tool["toolId"] for tool in catalogue.get("/tools/").json()["tools"]]
    assert set(registry.ids) <= set(listed)
    assert set(offered) <= set(registry.ids)
    assert [tool.tool_name for tool in registry.resolve(offered)] == offered
