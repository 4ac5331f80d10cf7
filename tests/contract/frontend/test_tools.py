"""Tools: the chat page's tool list and preferences (`FE/services/tool/tool.service.ts`), the catalogue
the role pages read (`FE/admin/tools/services/tools.service.ts`) and the admin tool pages
(`FE/admin/tools/services/admin-tool.service.ts`, bodies from `FE/admin/tools/pages/tool-form.page.ts`),
with the URLs, trailing slashes and bodies the client sends (FE = `frontend/ai.client/src/app`).

The catalogue is shared by the whole session, so the tests that change an entry put it back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from frontend_kit import (
    ADMIN_ROLE,
    BOOLEAN,
    INTEGER,
    STRING,
    FrontendClient,
    Stack,
    UserFactory,
    array,
    check,
    enum,
    new_user_id,
    nullable,
    obj,
)

CATEGORIES = ("search", "data", "visualization", "document", "code", "browser", "utility", "research",
              "finance", "gateway", "custom")  # fmt: skip
STATUSES = ("active", "deprecated", "disabled", "coming_soon")
# FE/services/tool/tool.service.ts: Tool, ToolsResponse
USER_TOOL = obj(
    {
        "toolId": STRING,
        "displayName": STRING,
        "description": STRING,
        "category": enum(*CATEGORIES),
        "icon": nullable(STRING),
        "protocol": enum("local", "aws_sdk", "mcp", "a2a"),
        "status": enum(*STATUSES),
        "grantedBy": array(STRING),
        "enabledByDefault": BOOLEAN,
        "userEnabled": nullable(BOOLEAN),
        "isEnabled": BOOLEAN,
    }
)
TOOLS_RESPONSE = obj(
    {"tools": array(USER_TOOL), "categories": array(STRING), "appRolesApplied": array(STRING)}
)
# FE/admin/tools/models/tool.model.ts: Tool, ToolListResponse, UserToolPermissions
CATALOG_TOOL = obj(
    {
        "toolId": STRING,
        "name": STRING,
        "description": STRING,
        "category": enum("search", "browser", "data", "utilities", "code", "gateway"),
        "isGatewayTool": BOOLEAN,
        "icon": nullable(STRING),
    }
)
CATALOG = obj({"tools": array(CATALOG_TOOL), "total": INTEGER})
PERMISSIONS = obj(
    {"userId": STRING, "allowedTools": array(STRING), "hasWildcard": BOOLEAN, "appRoles": array(STRING)}
)
# FE/admin/tools/models/admin-tool.model.ts: AdminTool, AdminToolListResponse, ToolRolesResponse, SyncResult
ADMIN_TOOL = obj(
    {
        "toolId": STRING,
        "displayName": STRING,
        "description": STRING,
        "category": enum(*CATEGORIES),
        "icon": nullable(STRING),
        "protocol": enum("local", "aws_sdk", "mcp", "mcp_external", "a2a"),
        "status": enum(*STATUSES),
        "requiresOauthProvider": nullable(STRING),
        "isPublic": BOOLEAN,
        "allowedAppRoles": array(STRING),
        "enabledByDefault": BOOLEAN,
        "createdAt": STRING,
        "updatedAt": STRING,
        "createdBy": nullable(STRING),
        "updatedBy": nullable(STRING),
    },
    {"mcpConfig": {"type": "object"}, "a2aConfig": {"type": "object"}},
)
ADMIN_TOOLS = obj({"tools": array(ADMIN_TOOL), "total": INTEGER})
TOOL_ROLES = obj(
    {
        "toolId": STRING,
        "roles": array(
            obj(
                {
                    "roleId": STRING,
                    "displayName": STRING,
                    "grantType": enum("direct", "inherited"),
                    "inheritedFrom": nullable(STRING),
                    "enabled": BOOLEAN,
                }
            )
        ),
    }
)
SYNC_RESULT = obj(
    {
        "discovered": array(obj({"tool_id": STRING, "display_name": STRING, "action": STRING})),
        "orphaned": array(obj({"tool_id": STRING, "action": STRING})),
        "unchanged": array(STRING),
        "dryRun": BOOLEAN,
    }
)


def form_body(tool_id: str, **changes: Any) -> dict[str, Any]:
    """What `tool-form.page.ts` sends for a local tool (no icon typed: `icon` left out)."""
    return {
        "toolId": tool_id,
        "displayName": "Calculator",
        "description": "Arithmetic.",
        "category": "utility",
        "protocol": "local",
        "status": "active",
        "isPublic": True,
        "enabledByDefault": True,
        "requiresOauthProvider": None,
    } | changes


def system_admin(stack: Stack) -> FrontendClient:
    """An administrator who may also change AppRoles (the stack's system-admin role is `admin`)."""
    user_id = new_user_id()
    return FrontendClient(
        stack,
        user_id=user_id,
        email=f"root.{user_id}@example.edu",
        name="Root Tester",
        roles=[ADMIN_ROLE, "admin"],
    )


@pytest.fixture
def root(stack: Stack) -> Iterator[FrontendClient]:
    """A system administrator; the built-in tools are put back as the registry describes them after."""
    client = system_admin(stack)
    yield client
    assert client.post("/admin/tools/sync?dry_run=false", json={}).status_code == 200
    for tool_id in ("calculator", "current_time"):
        reset = {"isPublic": True, "enabledByDefault": True, "status": "active"}
        assert client.put(f"/admin/tools/{tool_id}", json=reset).status_code == 200
    client.close()


class TestChatPageTools:
    def test_the_list_the_chat_page_loads(self, frontend_user: UserFactory) -> None:
        user = frontend_user()
        response = user.get("/tools/")
        assert response.status_code == 200, response.text
        check(response.json(), TOOLS_RESPONSE)
        tools = {tool["toolId"]: tool for tool in response.json()["tools"]}
        assert {"calculator", "current_time"} <= set(tools)
        assert tools["calculator"]["isEnabled"] is True

    def test_every_enabled_tool_runs_in_a_chat_turn(self, frontend_user: UserFactory) -> None:
        """The catalogue and the inference service agree: the ids the page enables are ones a turn runs."""
        user = frontend_user()
        enabled = [tool["toolId"] for tool in user.get("/tools/").json()["tools"] if tool["isEnabled"]]
        assert enabled
        response, events = user.invoke(
            {"message": "What is 6 * 7?", "session_id": str(uuid.uuid4()), "model_id": "offline-extractive",
             "enabled_tools": enabled, "provider": "offline"}
        )  # fmt: skip
        assert response.status_code == 200, response.read()
        assert [event.event for event in events][-1] == "done"
        used = [event.data["tool_use"]["name"] for event in events if event.event == "tool_use"]
        assert used == ["calculator"]

    def test_preferences_are_the_users_own(self, frontend_user: UserFactory) -> None:
        alice, bob = frontend_user(), frontend_user(first_name="Bob")
        saved = alice.put("/tools/preferences", json={"preferences": {"calculator": False}})
        assert saved.status_code == 200, saved.text
        mine = {tool["toolId"]: tool for tool in alice.get("/tools/").json()["tools"]}
        assert (mine["calculator"]["userEnabled"], mine["calculator"]["isEnabled"]) == (False, False)
        theirs = {tool["toolId"]: tool for tool in bob.get("/tools/").json()["tools"]}
        assert (theirs["calculator"]["userEnabled"], theirs["calculator"]["isEnabled"]) == (None, True)

    def test_a_tool_the_user_may_not_use_is_refused_with_a_message(
        self, frontend_user: UserFactory, root: FrontendClient
    ) -> None:
        assert root.put("/admin/tools/calculator", json={"isPublic": False}).status_code == 200
        user = frontend_user()
        assert "calculator" not in [tool["toolId"] for tool in user.get("/tools/").json()["tools"]]
        refused = user.put("/tools/preferences", json={"preferences": {"calculator": True}})
        assert refused.status_code == 403
        assert refused.json()["error"]["message"]  # the toast's text
        # inference-api reads the catalogue within CHAT_ROLES_CACHE_SECONDS of this change; its refusal
        # of an ungranted tool (403, `enabled_tools`) is tested there with the cache off.

    def test_a_model_the_users_roles_do_not_grant_is_a_403_the_chat_page_shows(
        self, frontend_user: UserFactory, root: FrontendClient
    ) -> None:
        model_id = f"fe-locked-{uuid.uuid4().hex[:8]}"
        body = {"modelId": model_id, "modelName": "Locked", "provider": "offline", "providerName": "Offline",
                "inputModalities": ["text"], "outputModalities": ["text"], "maxInputTokens": 1000,
                "maxOutputTokens": 100, "allowedAppRoles": ["system_admin"], "availableToRoles": [],
                "enabled": True, "inputPricePerMillionTokens": 0, "outputPricePerMillionTokens": 0}  # fmt: skip
        assert root.post("/admin/managed-models", json=body).status_code == 201
        user = frontend_user()
        assert model_id not in [model["modelId"] for model in user.get("/models").json()["models"]]
        response, _ = user.invoke(
            {"message": "Hi", "session_id": str(uuid.uuid4()), "model_id": model_id, "enabled_tools": [],
             "provider": "offline"}
        )  # fmt: skip
        assert response.status_code == 403
        error = response.json()["error"]
        assert (error["field"], bool(error["message"])) == ("model_id", True)  # "Chat Request Failed: ..."
        allowed, events = root.invoke(
            {"message": "Hi", "session_id": str(uuid.uuid4()), "model_id": model_id, "enabled_tools": [],
             "provider": "offline"}
        )  # fmt: skip
        assert allowed.status_code == 200, allowed.read()
        assert events[-1].event == "done"

    def test_the_catalogue_and_permissions_the_role_pages_read(self, frontend_user: UserFactory) -> None:
        admin = frontend_user(admin=True)
        catalog = admin.get("/tools/catalog")
        assert catalog.status_code == 200, catalog.text
        check(catalog.json(), CATALOG)
        mine = admin.get("/tools/my-permissions")
        check(mine.json(), PERMISSIONS)
        assert mine.json()["userId"] == admin.user_id


class TestAdminToolPages:
    def test_list_get_and_edit_form(self, root: FrontendClient) -> None:
        listed = root.get("/admin/tools/")
        assert listed.status_code == 200, listed.text
        check(listed.json(), ADMIN_TOOLS)
        assert root.get("/admin/tools/?status=active").json()["total"] >= 2
        one = root.get("/admin/tools/calculator")
        check(one.json(), ADMIN_TOOL)
        body = {key: value for key, value in form_body("calculator").items() if key != "toolId"}
        updated = root.put(
            "/admin/tools/calculator", json=body | {"displayName": "Sums", "icon": "heroCalculator"}
        )
        assert updated.status_code == 200, updated.text
        check(updated.json(), ADMIN_TOOL)
        assert (updated.json()["displayName"], updated.json()["icon"]) == ("Sums", "heroCalculator")

    def test_delete_then_create_again_from_the_form(self, root: FrontendClient) -> None:
        assert root.delete("/admin/tools/current_time?hard=false").status_code in (200, 204)
        assert root.get("/admin/tools/current_time").json()["status"] == "disabled"
        assert root.delete("/admin/tools/current_time?hard=true").status_code in (200, 204)
        created = root.post("/admin/tools/", json=form_body("current_time", displayName="Clock"))
        assert created.status_code in (200, 201), created.text
        check(created.json(), ADMIN_TOOL)

    def test_a_tool_the_platform_does_not_run_is_refused_with_its_field(self, root: FrontendClient) -> None:
        body = form_body("weather_lookup", protocol="mcp_external", mcpConfig={
            "serverUrl": "https://mcp.example/weather", "transport": "streamable-http", "authType": "none",
            "awsRegion": None, "apiKeyHeader": None, "secretArn": None, "tools": [], "healthCheckEnabled": False,
            "healthCheckIntervalSeconds": 300})  # fmt: skip
        refused = root.post("/admin/tools/", json=body)
        assert refused.status_code == 422
        assert refused.json()["error"]["field"] == "toolId"

    def test_role_assignment_dialog(self, root: FrontendClient) -> None:
        role_id = f"fe_tools_{uuid.uuid4().hex[:8]}"
        made = root.post("/admin/roles/", json={"roleId": role_id, "displayName": "Tool testers", "description": "",
                                                "jwtRoleMappings": [], "inheritsFrom": [], "grantedTools": [],
                                                "grantedModels": [], "priority": 0, "enabled": True})  # fmt: skip
        assert made.status_code in (200, 201), made.text
        roles = root.get("/admin/tools/calculator/roles")
        check(roles.json(), TOOL_ROLES)
        current = [item["roleId"] for item in roles.json()["roles"] if item["grantType"] == "direct"]
        assert (
            root.put("/admin/tools/calculator/roles", json={"appRoleIds": [*current, role_id]}).status_code
            == 200
        )
        assert role_id in root.get("/admin/tools/calculator").json()["allowedAppRoles"]
        assert (
            root.post("/admin/tools/calculator/roles/remove", json={"appRoleIds": [role_id]}).status_code
            == 200
        )
        assert (
            root.post("/admin/tools/calculator/roles/add", json={"appRoleIds": [role_id]}).status_code == 200
        )
        assert root.get(f"/admin/roles/{role_id}").json()["grantedTools"] == ["calculator"]
        assert root.delete(f"/admin/roles/{role_id}").status_code in (200, 204)

    def test_sync_from_the_registry(self, root: FrontendClient) -> None:
        for dry_run in ("true", "false"):
            synced = root.post(f"/admin/tools/sync?dry_run={dry_run}", json={})
            assert synced.status_code == 200, synced.text
            check(synced.json(), SYNC_RESULT)
            assert {"calculator", "current_time"} <= set(synced.json()["unchanged"])

    def test_a_user_without_the_admin_role_is_refused(self, frontend_user: UserFactory) -> None:
        user = frontend_user()
        for method, path in (("GET", "/admin/tools/"), ("POST", "/admin/tools/sync?dry_run=true")):
            refused = user.request(method, path, json={} if method == "POST" else None)
            assert refused.status_code == 403
            assert refused.json()["error"]["message"]
