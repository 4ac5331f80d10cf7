"""`GET /models` (who may use what) and the admin-only `/admin/managed-models` CRUD, on both backends."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

Api = Callable[..., Any]
CheckError = Callable[..., dict[str, Any]]


def model_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "modelId": f"provider.model-{uuid.uuid4().hex[:8]}",
        "modelName": "Model",
        "provider": "bedrock",
        "providerName": "Amazon Bedrock",
        "inputModalities": ["TEXT"],
        "outputModalities": ["TEXT"],
        "maxInputTokens": 200000,
        "maxOutputTokens": 8192,
        "inputPricePerMillionTokens": 1.0,
        "outputPricePerMillionTokens": 5.0,
        "allowedAppRoles": ["*"],
    }
    return body | overrides


class TestAdminCrud:
    def test_create_read_update_delete(self, api: Api, check_error: CheckError) -> None:
        admin = api("root", roles=["admin"])
        created = admin.post("/admin/managed-models", json=model_body(modelName="Haiku"))
        assert created.status_code == 201, created.text
        model = created.json()
        assert model["supportsCaching"] is True  # bedrock default
        assert model["enabled"] is True
        assert admin.get(f"/admin/managed-models/{model['id']}").json() == model
        updated = admin.put(
            f"/admin/managed-models/{model['id']}", json={"modelName": "Haiku 4.5", "enabled": False}
        )
        assert updated.json()["modelName"] == "Haiku 4.5"
        assert updated.json()["enabled"] is False
        listed = admin.get("/admin/managed-models").json()
        assert model["id"] in {item["id"] for item in listed["models"]}
        assert listed["totalCount"] == len(listed["models"])
        assert admin.delete(f"/admin/managed-models/{model['id']}").status_code == 204
        check_error(admin.get(f"/admin/managed-models/{model['id']}"), 404, "not_found")
        check_error(admin.delete(f"/admin/managed-models/{model['id']}"), 404, "not_found")
        check_error(
            admin.put(f"/admin/managed-models/{model['id']}", json={"enabled": True}), 404, "not_found"
        )

    def test_duplicate_model_id_is_409(self, api: Api, check_error: CheckError) -> None:
        admin = api("root", roles=["admin"])
        body = model_body()
        assert admin.post("/admin/managed-models", json=body).status_code == 201
        check_error(admin.post("/admin/managed-models", json=body), 409, "conflict")

    def test_invalid_model_is_422(self, api: Api, check_error: CheckError) -> None:
        admin = api("root", roles=["admin"])
        error = check_error(
            admin.post("/admin/managed-models", json=model_body(maxInputTokens=0)), 422, "validation_error"
        )
        assert error["field"] == "maxInputTokens"

    def test_null_for_a_non_nullable_field_is_422_naming_it(self, api: Api, check_error: CheckError) -> None:
        admin = api("root", roles=["admin"])
        model = admin.post("/admin/managed-models", json=model_body()).json()
        for field in ("enabled", "modelName", "inputPricePerMillionTokens", "allowedAppRoles"):
            error = check_error(
                admin.put(f"/admin/managed-models/{model['id']}", json={field: None}), 422, "validation_error"
            )
            assert error["field"] == field
        cleared = admin.put(f"/admin/managed-models/{model['id']}", json={"knowledgeCutoffDate": None})
        assert cleared.status_code == 200
        for field, wrong in (
            ("knowledgeCutoffDate", 0),
            ("maxInputTokens", 1.0),
            ("enabled", 1),
            ("inputPricePerMillionTokens", "3"),
        ):
            error = check_error(
                admin.put(f"/admin/managed-models/{model['id']}", json={field: wrong}),
                422,
                "validation_error",
            )
            assert error["field"] == field

    def test_non_admin_gets_403_on_every_admin_route(self, api: Api, check_error: CheckError) -> None:
        admin, user = api("root", roles=["admin"]), api("bob", roles=["staff"])
        model_id = admin.post("/admin/managed-models", json=model_body()).json()["id"]
        for method, path, body in [
            ("GET", "/admin/managed-models", None),
            ("POST", "/admin/managed-models", model_body()),
            ("GET", f"/admin/managed-models/{model_id}", None),
            ("PUT", f"/admin/managed-models/{model_id}", {"enabled": False}),
            ("DELETE", f"/admin/managed-models/{model_id}", None),
        ]:
            check_error(user.request(method, path, json=body), 403, "forbidden")
        assert admin.get(f"/admin/managed-models/{model_id}").json()["enabled"] is True

    def test_no_token_is_401_not_403(self, live: Any, check_error: CheckError) -> None:
        import httpx

        check_error(httpx.get(f"{live.base_url}/admin/managed-models"), 401, "unauthorized")


class TestUsableModels:
    def test_models_are_filtered_by_role_and_enabled(self, api: Api) -> None:
        admin = api("root", roles=["admin"])
        tag = uuid.uuid4().hex[:6]
        made = {
            name: admin.post(
                "/admin/managed-models", json=model_body(modelName=f"{name}-{tag}", **fields)
            ).json()
            for name, fields in {
                "everyone": {"allowedAppRoles": ["*"]},
                "faculty": {"allowedAppRoles": ["faculty"]},
                "legacy": {"allowedAppRoles": [], "availableToRoles": ["faculty"]},
                "disabled": {"allowedAppRoles": ["*"], "enabled": False},
                "nobody": {"allowedAppRoles": []},
            }.items()
        }

        def visible(client: Any) -> set[str]:
            body = client.get("/models").json()
            assert body["totalCount"] == len(body["models"])
            return {
                item["modelName"].split("-")[0] for item in body["models"] if item["modelName"].endswith(tag)
            }

        assert visible(api("stu", roles=["student"])) == {"everyone"}
        assert visible(api("prof", roles=["faculty"])) == {"everyone", "faculty", "legacy"}
        assert len(made) == 5
