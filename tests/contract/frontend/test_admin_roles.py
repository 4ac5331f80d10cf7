"""Admin: AppRoles, as `FE/admin/roles/services/app-roles.service.ts` calls them (with the trailing
slash on the collection) and with the bodies `FE/admin/roles/pages/role-form.page.ts` builds
(FE = `frontend/ai.client/src/app`). Reading needs the admin role; changing needs a system administrator
(the stack's `CHAT_SYSTEM_ADMIN_ROLES` is `admin`)."""

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
    new_user_id,
    nullable,
    obj,
)

# FE/admin/roles/models/app-role.model.ts: EffectivePermissions, AppRole, AppRoleListResponse
EFFECTIVE_PERMISSIONS = obj({"tools": array(STRING), "models": array(STRING), "quotaTier": nullable(STRING)})
APP_ROLE = obj(
    {
        "roleId": STRING,
        "displayName": STRING,
        "description": STRING,
        "jwtRoleMappings": array(STRING),
        "inheritsFrom": array(STRING),
        "grantedTools": array(STRING),
        "grantedModels": array(STRING),
        "effectivePermissions": EFFECTIVE_PERMISSIONS,
        "priority": INTEGER,
        "isSystemRole": BOOLEAN,
        "enabled": BOOLEAN,
        "createdAt": STRING,
        "updatedAt": STRING,
        "createdBy": STRING,
    }
)
APP_ROLE_LIST = obj({"roles": array(APP_ROLE), "total": INTEGER})


def form_create(role_id: str, **changes: Any) -> dict[str, Any]:
    """The role form's create body (JWT mappings parsed from its comma-separated field)."""
    return {
        "roleId": role_id,
        "displayName": "Research staff",
        "description": "Staff who run research tools.",
        "jwtRoleMappings": ["Researcher", "Faculty"],
        "inheritsFrom": [],
        "grantedTools": ["calculator"],
        "grantedModels": ["offline-extractive"],
        "priority": 50,
        "enabled": True,
    } | changes


@pytest.fixture
def root(stack: Stack) -> Iterator[FrontendClient]:
    """An administrator who is also a system administrator (JWT roles `Admin` and `admin`)."""
    user_id = new_user_id()
    client = FrontendClient(
        stack,
        user_id=user_id,
        email=f"root.{user_id}@example.edu",
        name="Root Tester",
        roles=[ADMIN_ROLE, "admin"],
    )
    yield client
    client.close()


def new_role_id() -> str:
    return f"fe_role_{uuid.uuid4().hex[:8]}"


class TestRolePages:
    def test_the_list_page_and_the_seeded_system_roles(self, frontend_user: UserFactory) -> None:
        admin = frontend_user(admin=True)
        listed = admin.get("/admin/roles/")
        assert listed.status_code == 200, listed.text
        check(listed.json(), APP_ROLE_LIST)
        roles = {role["roleId"]: role for role in listed.json()["roles"]}
        assert listed.json()["total"] == len(roles)
        assert roles["system_admin"]["isSystemRole"] is True
        assert roles["system_admin"]["effectivePermissions"]["models"] == ["*"]
        assert roles["default"]["isSystemRole"] is True

    def test_create_edit_sync_and_delete_from_the_form(self, root: FrontendClient) -> None:
        role_id = new_role_id()
        created = root.post("/admin/roles/", json=form_create(role_id))
        assert created.status_code in (200, 201), created.text
        check(created.json(), APP_ROLE)
        assert created.json()["effectivePermissions"]["tools"] == ["calculator"]
        one = root.get(f"/admin/roles/{role_id}")
        check(one.json(), APP_ROLE)
        update = {key: value for key, value in form_create(role_id).items() if key != "roleId"}
        patched = root.patch(
            f"/admin/roles/{role_id}", json=update | {"grantedModels": ["*"], "priority": 60}
        )
        assert patched.status_code == 200, patched.text
        check(patched.json(), APP_ROLE)
        assert (patched.json()["effectivePermissions"]["models"], patched.json()["priority"]) == (["*"], 60)
        synced = root.post(f"/admin/roles/{role_id}/sync", json={})
        assert synced.status_code == 200, synced.text
        check(synced.json(), APP_ROLE)
        assert root.delete(f"/admin/roles/{role_id}").status_code in (200, 204)
        assert root.get(f"/admin/roles/{role_id}").status_code == 404

    def test_a_child_role_inherits_what_its_parent_grants(self, root: FrontendClient) -> None:
        parent, child = new_role_id(), new_role_id()
        assert root.post("/admin/roles/", json=form_create(parent)).status_code in (200, 201)
        made = root.post(
            "/admin/roles/",
            json=form_create(
                child, inheritsFrom=[parent], grantedTools=[], grantedModels=[], jwtRoleMappings=[]
            ),
        )
        assert made.json()["effectivePermissions"] == {
            "tools": ["calculator"],
            "models": ["offline-extractive"],
            "quotaTier": None,
        }

    def test_the_role_grants_what_the_frontend_then_shows(self, root: FrontendClient, stack: Stack) -> None:
        role_id, jwt_role = new_role_id(), f"FeModelers{uuid.uuid4().hex[:6]}"
        model_id = f"fe-granted-{uuid.uuid4().hex[:8]}"
        body = {"modelId": model_id, "modelName": "Granted", "provider": "offline", "providerName": "Offline",
                "inputModalities": ["text"], "outputModalities": ["text"], "maxInputTokens": 1000,
                "maxOutputTokens": 100, "allowedAppRoles": [role_id], "availableToRoles": [], "enabled": True,
                "inputPricePerMillionTokens": 0, "outputPricePerMillionTokens": 0}  # fmt: skip
        assert root.post("/admin/managed-models", json=body).status_code == 201
        user_id = new_user_id()
        member = FrontendClient(
            stack, user_id=user_id, email=f"m.{user_id}@example.edu", name="M", roles=[jwt_role]
        )
        assert model_id not in [model["modelId"] for model in member.get("/models").json()["models"]]
        assert root.post(
            "/admin/roles/", json=form_create(role_id, jwtRoleMappings=[jwt_role])
        ).status_code in (200, 201)
        assert model_id in [model["modelId"] for model in member.get("/models").json()["models"]]
        member.close()

    def test_bad_form_input_names_the_field(self, root: FrontendClient) -> None:
        refused = root.post("/admin/roles/", json=form_create("Bad-Role"))
        assert refused.status_code == 422
        assert refused.json()["error"]["field"] == "roleId"
        assert refused.json()["error"]["message"]
        taken = new_role_id()
        root.post("/admin/roles/", json=form_create(taken))
        assert root.post("/admin/roles/", json=form_create(taken)).status_code == 409

    def test_a_system_role_cannot_be_deleted(self, root: FrontendClient) -> None:
        refused = root.delete("/admin/roles/default")
        assert refused.status_code == 400
        assert refused.json()["error"]["message"]


class TestWhoMayDoWhat:
    def test_an_admin_reads_but_only_a_system_admin_changes(self, frontend_user: UserFactory) -> None:
        admin = frontend_user(admin=True)  # JWT role `Admin` only
        assert admin.get("/admin/roles/").status_code == 200
        assert admin.get("/admin/roles/default").status_code == 200
        for method, path, body in (
            ("POST", "/admin/roles/", form_create(new_role_id())),
            ("PATCH", "/admin/roles/default", {"priority": 1}),
            ("DELETE", "/admin/roles/default", None),
            ("POST", "/admin/roles/default/sync", {}),
        ):
            refused = admin.request(method, path, json=body)
            assert refused.status_code == 403, (method, path, refused.text)
            assert refused.json()["error"]["code"] == "forbidden"

    def test_a_user_without_the_admin_role_reads_nothing(self, frontend_user: UserFactory) -> None:
        user = frontend_user()
        for path in ("/admin/roles/", "/admin/roles/default"):
            assert user.get(path).status_code == 403
