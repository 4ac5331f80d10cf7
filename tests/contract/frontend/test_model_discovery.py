"""Admin: browsing a provider's models before adding one, as
`FE/admin/bedrock-models/services/bedrock-models.service.ts` and
`FE/admin/openai-models/services/openai-models.service.ts` call it (FE = `frontend/ai.client/src/app`).
The stack's app-api lists fake providers served on loopback (see conftest)."""

from __future__ import annotations

from frontend_kit import BOOLEAN, INTEGER, STRING, UserFactory, array, check, nullable, obj

# FE/admin/bedrock-models/models/bedrock-model.model.ts: FoundationModelSummary, BedrockModelsResponse
FOUNDATION_MODEL = obj(
    {
        "modelId": STRING,
        "modelName": STRING,
        "providerName": STRING,
        "inputModalities": array(STRING),
        "outputModalities": array(STRING),
        "responseStreamingSupported": BOOLEAN,
        "customizationsSupported": array(STRING),
        "inferenceTypesSupported": array(STRING),
    },
    {"modelLifecycle": STRING},
)
BEDROCK_MODELS = obj(
    {"models": array(FOUNDATION_MODEL), "nextToken": nullable(STRING)}, {"totalCount": INTEGER}
)
# FE/admin/openai-models/models/openai-model.model.ts: OpenAIModelSummary, OpenAIModelsResponse
OPENAI_MODEL = obj({"id": STRING, "ownedBy": STRING}, {"created": INTEGER, "object": STRING})
OPENAI_MODELS = obj({"models": array(OPENAI_MODEL), "totalCount": INTEGER})
ERROR = obj({"error": obj({"message": STRING})})


class TestDiscovery:
    def test_the_bedrock_page_with_its_filters(self, frontend_user: UserFactory) -> None:
        admin = frontend_user(admin=True)
        params = {"by_provider": "Anthropic", "by_output_modality": "TEXT", "max_results": "50"}
        response = admin.get("/admin/bedrock/models", params=params)
        assert response.status_code == 200, response.text
        check(response.json(), BEDROCK_MODELS)
        assert [model["modelLifecycle"] for model in response.json()["models"]] == ["ACTIVE"]

    def test_the_openai_page(self, frontend_user: UserFactory) -> None:
        admin = frontend_user(admin=True)
        response = admin.get("/admin/openai/models", params={"max_results": "100"})
        assert response.status_code == 200, response.text
        check(response.json(), OPENAI_MODELS)
        assert [model["id"] for model in response.json()["models"]] == ["llama-3.1-8b"]

    def test_the_gemini_page_says_gemini_is_not_configured(self, frontend_user: UserFactory) -> None:
        response = frontend_user(admin=True).get("/admin/gemini/models")
        assert response.status_code == 503
        check(response.json(), ERROR)
        assert "Gemini is not configured" in response.json()["error"]["message"]

    def test_administrators_only(self, frontend_user: UserFactory) -> None:
        assert frontend_user().get("/admin/bedrock/models").status_code == 403
