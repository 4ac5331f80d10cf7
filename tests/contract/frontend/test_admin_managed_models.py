"""Admin: the model catalogue, as `FE/admin/manage-models/services/managed-models.service.ts` calls it
with the bodies `FE/admin/manage-models/model-form.page.ts` builds (FE = `frontend/ai.client/src/app`)."""

from __future__ import annotations

import uuid
from typing import Any

from frontend_kit import BOOLEAN, INTEGER, NUMBER, STRING, UserFactory, array, check, obj

# FE/admin/manage-models/models/managed-model.model.ts: ManagedModel (prices go through toFixed)
MANAGED_MODEL = obj(
    {
        "id": STRING,
        "modelId": STRING,
        "modelName": STRING,
        "provider": STRING,
        "providerName": STRING,
        "inputModalities": array(STRING),
        "outputModalities": array(STRING),
        "maxInputTokens": INTEGER,
        "maxOutputTokens": INTEGER,
        "allowedAppRoles": array(STRING),
        "availableToRoles": array(STRING),
        "enabled": BOOLEAN,
        "inputPricePerMillionTokens": NUMBER,
        "outputPricePerMillionTokens": NUMBER,
        "isReasoningModel": BOOLEAN,
        "supportsCaching": BOOLEAN,
    },
    {
        "responseStreamingSupported": BOOLEAN,
        "modelLifecycle": STRING,
        "cacheWritePricePerMillionTokens": NUMBER,
        "cacheReadPricePerMillionTokens": NUMBER,
        "knowledgeCutoffDate": STRING,
        "createdAt": STRING,
        "updatedAt": STRING,
    },
)
# FE/admin/manage-models/services/managed-models.service.ts: the list response
MANAGED_MODELS_LIST = obj({"models": array(MANAGED_MODEL), "totalCount": INTEGER})


def form_value(**changes: Any) -> dict[str, Any]:
    """The model form's value: exactly these 18 keys, on create and on update."""
    return {
        "modelId": f"anthropic.claude-test-{uuid.uuid4().hex[:8]}",
        "modelName": "Claude test",
        "provider": "bedrock",
        "providerName": "Anthropic",
        "inputModalities": ["TEXT", "IMAGE"],
        "outputModalities": ["TEXT"],
        "maxInputTokens": 200000,
        "maxOutputTokens": 8192,
        "allowedAppRoles": ["default"],
        "availableToRoles": [],
        "enabled": False,
        "inputPricePerMillionTokens": 3,
        "outputPricePerMillionTokens": 15,
        "cacheWritePricePerMillionTokens": None,
        "cacheReadPricePerMillionTokens": 0.3,
        "isReasoningModel": False,
        "knowledgeCutoffDate": None,
        "supportsCaching": True,
        **changes,
    }


class TestModelCatalogue:
    def test_list_create_read_update_delete(self, frontend_user: UserFactory) -> None:
        admin = frontend_user(admin=True)
        listed = admin.get("/admin/managed-models")
        assert listed.status_code == 200
        check(listed.json(), MANAGED_MODELS_LIST)

        created = admin.post("/admin/managed-models", json=form_value())
        assert created.status_code in (200, 201), created.text
        check(created.json(), MANAGED_MODEL)
        path = f"/admin/managed-models/{created.json()['id']}"

        read = admin.get(path)
        assert read.status_code == 200
        check(read.json(), MANAGED_MODEL)

        body = form_value(
            modelId=created.json()["modelId"], modelName="Claude test 2", knowledgeCutoffDate="2025-03-01"
        )
        updated = admin.put(path, json=body)
        assert updated.status_code == 200, updated.text
        check(updated.json(), MANAGED_MODEL)
        assert (updated.json()["modelName"], updated.json()["knowledgeCutoffDate"]) == (
            "Claude test 2",
            "2025-03-01",
        )

        assert admin.delete(path).status_code in (200, 204)
        assert admin.get(path).status_code == 404

    def test_a_taken_model_id_is_refused_with_its_field(self, frontend_user: UserFactory) -> None:
        admin = frontend_user(admin=True)
        body = form_value()
        assert admin.post("/admin/managed-models", json=body).status_code in (200, 201)
        again = admin.post("/admin/managed-models", json=body)
        assert again.status_code == 409
        check(again.json(), obj({"error": obj({"message": STRING})}))

    def test_people_without_the_admin_role_are_refused(self, frontend_user: UserFactory) -> None:
        assert frontend_user().get("/admin/managed-models").status_code == 403
