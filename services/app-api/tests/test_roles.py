"""`/admin/roles`, AppRole enforcement on `/models`, seeding, and the role cache, over HTTP on both backends."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app_api.config import Settings
from app_api.seed import seed_storage
from chat_core.managed_models import ManagedModel, ManagedModelCreate, ModelProvider
from chat_storage import open_storage

ErrorCheck = Callable[[httpx.Response, int, str], dict[str, Any]]


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def model_body(model_id: str, allowed: list[str]) -> dict[str, Any]:
    return {
        "modelId": model_id, "modelName": model_id, "provider": "offline", "providerName": "Offline",
        "inputModalities": ["text"], "outputModalities": ["text"], "maxInputTokens": 1000,
        "maxOutputTokens": 100, "allowedAppRoles": allowed, "availableToRoles": [], "enabled": True,
        "inputPricePerMillionTokens": 0, "outputPricePerMillionTokens": 0,
    }  # fmt: skip


class TestRoleAdministration:
    def test_create_read_update_delete(self, api: Any, check_error: ErrorCheck) -> None:
        admin = api("root", roles=["admin"])
        role_id = unique("staff")
        body = {"roleId": role_id, "displayName": "Staff", "description": "d", "jwtRoleMappings": [f"J{role_id}"],
                "inheritsFrom": [], "grantedTools": ["calculator"], "grantedModels": ["m-1"], "priority": 5,
                "enabled": True}  # fmt: skip
        created = admin.post("/admin/roles/", json=body)
        assert created.status_code == 201, created.text
        role = created.json()
        assert role["effectivePermissions"] == {"tools": ["calculator"], "models": ["m-1"], "quotaTier": None}
        assert (role["isSystemRole"], role["createdBy"]) == (False, admin.user_id)
        check_error(admin.post("/admin/roles/", json=body), 409, "conflict")
        listed = admin.get("/admin/roles/").json()
        assert role_id in [item["roleId"] for item in listed["roles"]]
        assert listed["total"] == len(listed["roles"])
        assert admin.get(f"/admin/roles/{role_id}").json()["grantedModels"] == ["m-1"]
        patched = admin.patch(f"/admin/roles/{role_id}", json={"grantedModels": ["m-2"], "priority": 9})
        assert (patched.json()["effectivePermissions"]["models"], patched.json()["priority"]) == (["m-2"], 9)
        assert admin.post(f"/admin/roles/{role_id}/sync", json={}).json()["roleId"] == role_id
        assert admin.delete(f"/admin/roles/{role_id}").status_code == 204
        check_error(admin.get(f"/admin/roles/{role_id}"), 404, "not_found")

    def test_inheritance_is_recomputed_for_children(self, api: Any, check_error: ErrorCheck) -> None:
        admin = api("root", roles=["admin"])
        parent, child = unique("parent"), unique("child")
        admin.post(
            "/admin/roles/", json={"roleId": parent, "displayName": "P", "grantedTools": ["calculator"]}
        )
        made = admin.post(
            "/admin/roles/", json={"roleId": child, "displayName": "C", "inheritsFrom": [parent]}
        )
        assert made.json()["effectivePermissions"]["tools"] == ["calculator"]
        admin.patch(f"/admin/roles/{parent}", json={"grantedTools": ["current_time"]})
        assert admin.get(f"/admin/roles/{child}").json()["effectivePermissions"]["tools"] == ["current_time"]
        refused = check_error(admin.delete(f"/admin/roles/{parent}"), 409, "conflict")
        assert refused["detail"] == {"inheritedBy": [child]}
        bad = check_error(
            admin.post("/admin/roles/", json={"roleId": unique("x"), "displayName": "X", "inheritsFrom": ["nope_x"]}),
            422, "validation_error",
        )  # fmt: skip
        assert bad["field"] == "inheritsFrom"

    def test_bad_input_names_the_field(self, api: Any, check_error: ErrorCheck) -> None:
        admin = api("root", roles=["admin"])
        for body, field in (
            ({"roleId": "Bad-Id", "displayName": "x"}, "roleId"),
            ({"roleId": "okay_id", "displayName": "x", "priority": 1000}, "priority"),
            ({"roleId": "okay_id", "displayName": ""}, "displayName"),
        ):
            assert (
                check_error(admin.post("/admin/roles/", json=body), 422, "validation_error")["field"] == field
            )
        role_id = unique("nulls")
        admin.post("/admin/roles/", json={"roleId": role_id, "displayName": "N"})
        check_error(
            admin.patch(f"/admin/roles/{role_id}", json={"displayName": None}), 422, "validation_error"
        )

    def test_admin_reads_but_only_system_admin_writes(
        self, start_app: Callable[[Settings], AbstractContextManager[Any]], settings_for: Callable[..., Settings],
        tmp_path: Path, check_error: ErrorCheck,
    ) -> None:  # fmt: skip
        settings = settings_for(
            tmp_path, admin_roles=frozenset({"Admin"}), system_admin_roles=frozenset({"Root"})
        )
        with (
            start_app(settings) as live,
            client(live.base_url, "adm", ["Admin"]) as admin,
            client(live.base_url, "root", ["Admin", "Root"]) as root,
        ):
            assert admin.get("/admin/roles/").status_code == 200
            check_error(
                admin.post("/admin/roles/", json={"roleId": "abc", "displayName": "A"}), 403, "forbidden"
            )
            check_error(admin.get("/admin/roles/cache/stats"), 403, "forbidden")
            assert root.post("/admin/roles/", json={"roleId": "abc", "displayName": "A"}).status_code == 201
            check_error(admin.patch("/admin/roles/abc", json={"priority": 1}), 403, "forbidden")
            check_error(admin.delete("/admin/roles/abc"), 403, "forbidden")
            check_error(admin.post("/admin/roles/abc/sync", json={}), 403, "forbidden")
            stats = root.get("/admin/roles/cache/stats").json()
            assert set(stats) == {"roleCount", "ageSeconds", "ttlSeconds", "hits", "loads", "fresh"}
            assert root.post("/admin/roles/cache/invalidate").status_code == 204


def client(base_url: str, user: str, roles: list[str]) -> httpx.Client:
    from chat_http.auth import mint_dev_token

    from .conftest import DEV_SECRET  # type: ignore[import-not-found]

    token = mint_dev_token(DEV_SECRET, user_id=user, email=f"{user}@example.com", roles=roles)
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


class TestModelAccess:
    def test_models_follow_app_roles(self, api: Any) -> None:
        admin = api("root", roles=["admin"])
        role_id, jwt_role = unique("modelers"), unique("JModel")
        model_id = unique("m")
        assert admin.post("/admin/managed-models", json=model_body(model_id, [role_id])).status_code == 201
        member, outsider = api("member", roles=[jwt_role]), api("outsider", roles=["Other"])
        assert model_id not in [m["modelId"] for m in member.get("/models").json()["models"]]
        admin.post(
            "/admin/roles/", json={"roleId": role_id, "displayName": "M", "jwtRoleMappings": [jwt_role]}
        )
        assert model_id in [m["modelId"] for m in member.get("/models").json()["models"]]
        assert model_id not in [m["modelId"] for m in outsider.get("/models").json()["models"]]
        admin.patch(f"/admin/roles/{role_id}", json={"enabled": False})
        assert model_id not in [m["modelId"] for m in member.get("/models").json()["models"]]

    def test_role_granting_the_model_id(self, api: Any) -> None:
        admin = api("root", roles=["admin"])
        role_id, jwt_role, model_id = unique("grant"), unique("JGrant"), unique("m")
        created = admin.post("/admin/managed-models", json=model_body(model_id, ["nobody_role_x"])).json()
        admin.post("/admin/roles/", json={"roleId": role_id, "displayName": "G", "jwtRoleMappings": [jwt_role],
                                          "grantedModels": [model_id]})  # fmt: skip
        assert model_id in [m["modelId"] for m in api("u", roles=[jwt_role]).get("/models").json()["models"]]
        synced = admin.post(f"/admin/managed-models/{created['id']}/sync-roles")
        assert synced.status_code == 200, synced.text
        assert role_id in synced.json()["allowedAppRoles"]
        assert "nobody_role_x" in synced.json()["allowedAppRoles"]  # a legacy JWT-role grant is kept

    def test_models_stored_before_app_roles_keep_jwt_role_grants(self, api: Any, live: Any) -> None:
        """A model whose allowedAppRoles names a JWT role (written straight to storage, as old data is)."""
        model_id = unique("legacy")

        async def store() -> None:
            async with open_storage(live.storage_config()) as storage:
                create = ManagedModelCreate.model_validate(
                    model_body(model_id, ["staff"]) | {"provider": ModelProvider.OFFLINE}
                )
                await storage.managed_models.create(ManagedModel.model_validate(create.model_dump()))

        asyncio.run(store())
        assert model_id in [m["modelId"] for m in api("s", roles=["staff"]).get("/models").json()["models"]]
        assert model_id not in [
            m["modelId"] for m in api("n", roles=["student"]).get("/models").json()["models"]
        ]


class TestSeedAndCache:
    @pytest.fixture(params=["sqlite", pytest.param("aws", marks=pytest.mark.aws)])
    def seeded(
        self, request: pytest.FixtureRequest, start_app: Callable[[Settings], AbstractContextManager[Any]],
        settings_for: Callable[..., Settings], aws_settings_for: Callable[..., Settings], tmp_path: Path,
    ) -> Iterator[tuple[Any, Settings]]:  # fmt: skip
        """A seeded app per backend; the second replica of a test shares its storage."""
        settings = (
            settings_for(tmp_path, roles_cache_seconds=0.3)
            if request.param == "sqlite"
            else aws_settings_for(tmp_path, request.getfixturevalue("moto_endpoint"), roles_cache_seconds=0.3)
        )
        asyncio.run(seed_storage(settings, provision=settings.storage == "aws"))
        with start_app(settings) as live:
            yield live, settings

    def test_seed_is_idempotent_and_makes_system_roles(
        self, seeded: tuple[Any, Settings], check_error: ErrorCheck
    ) -> None:
        live, settings = seeded
        again = asyncio.run(seed_storage(settings))
        assert (again.roles_created, sorted(again.roles_kept)) == ([], ["default", "system_admin"])
        with client(live.base_url, "root", ["admin"]) as admin:
            roles = {role["roleId"]: role for role in admin.get("/admin/roles/").json()["roles"]}
            check_error(admin.delete("/admin/roles/default"), 400, "bad_request")
        assert roles["system_admin"]["effectivePermissions"]["models"] == ["*"]
        assert roles["system_admin"]["jwtRoleMappings"] == ["admin"]
        assert roles["default"]["isSystemRole"] is True

    def test_a_change_on_one_replica_reaches_another_within_the_ttl(
        self, seeded: tuple[Any, Settings], start_app: Callable[[Settings], AbstractContextManager[Any]]
    ) -> None:
        live, settings = seeded
        with (
            start_app(settings) as other,
            client(live.base_url, "root", ["admin"]) as admin,
            client(other.base_url, "member", ["JLate"]) as member,
        ):
            model_id = unique("m")
            admin.post("/admin/managed-models", json=model_body(model_id, ["late_role"]))
            assert model_id not in [m["modelId"] for m in member.get("/models").json()["models"]]
            admin.post(
                "/admin/roles/",
                json={"roleId": "late_role", "displayName": "L", "jwtRoleMappings": ["JLate"]},
            )
            deadline = time.monotonic() + 5
            while model_id not in [m["modelId"] for m in member.get("/models").json()["models"]]:
                assert time.monotonic() < deadline, "the other replica never saw the new role"
                time.sleep(0.1)
