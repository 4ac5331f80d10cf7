"""The model picker, as `FE/session/services/model/model.service.ts` loads it and
`FE/components/model-dropdown/model-dropdown.component.ts` shows it (FE = `frontend/ai.client/src/app`)."""

from __future__ import annotations

from frontend_kit import BOOLEAN, INTEGER, STRING, UserFactory, array, check, obj

# FE/admin/manage-models/models/managed-model.model.ts: ManagedModel, the fields the picker reads
# (`provider` is sent back as the turn's `provider`; the client's type says bedrock|openai|gemini,
# the development catalogue's offline model says `offline`, which the picker passes through as-is)
PICKER_MODEL = obj(
    {
        "id": STRING,
        "modelId": STRING,
        "modelName": STRING,
        "providerName": STRING,
        "provider": STRING,
        "enabled": BOOLEAN,
    }
)
# FE/session/services/model/model.service.ts: the list response
MODELS_LIST = obj({"models": array(PICKER_MODEL), "totalCount": INTEGER})


class TestModelPicker:
    def test_the_chat_page_offers_the_enabled_models(self, frontend_user: UserFactory) -> None:
        response = frontend_user().get("/models")
        assert response.status_code == 200
        check(response.json(), MODELS_LIST)
        enabled = [model["modelId"] for model in response.json()["models"] if model["enabled"] is True]
        assert "offline-extractive" in enabled
