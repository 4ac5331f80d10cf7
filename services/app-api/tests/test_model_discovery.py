"""Model discovery for administrators, against fake providers over HTTP: a Bedrock control plane
(`ListFoundationModels`) and an OpenAI-compatible `/v1/models`; Gemini is not configured."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

Serve = Callable[[FastAPI], AbstractContextManager[str]]
CheckError = Callable[..., dict[str, Any]]

SUMMARIES = [
    {
        "modelArn": "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
        "modelId": "anthropic.claude-3-haiku-20240307-v1:0",
        "modelName": "Claude 3 Haiku",
        "providerName": "Anthropic",
        "inputModalities": ["TEXT", "IMAGE"],
        "outputModalities": ["TEXT"],
        "responseStreamingSupported": True,
        "customizationsSupported": [],
        "inferenceTypesSupported": ["ON_DEMAND"],
        "modelLifecycle": {"status": "ACTIVE"},
    },
    {
        "modelArn": "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0",
        "modelId": "anthropic.claude-3-5-haiku-20241022-v1:0",
        "modelName": "Claude 3.5 Haiku",
        "providerName": "Anthropic",
        "inputModalities": ["TEXT"],
        "outputModalities": ["TEXT"],
        "responseStreamingSupported": True,
        "customizationsSupported": ["FINE_TUNING"],
        "inferenceTypesSupported": ["INFERENCE_PROFILE"],
        "modelLifecycle": {"status": "LEGACY"},
    },
]
OPENAI_MODELS = [
    {"id": "old-model", "object": "model", "created": 1_600_000_000, "owned_by": "system"},
    {"id": "new-model", "object": "model", "created": 1_700_000_000, "owned_by": "library"},
    {"id": "undated", "object": "model", "owned_by": "me"},
]


class FakeProviders:
    """A Bedrock control plane and an OpenAI-compatible endpoint; `fail` scripts an error answer."""

    def __init__(self) -> None:
        self.fail: tuple[int, str] | None = None
        self.garbage = False
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.app = FastAPI()
        self.app.get("/foundation-models")(self.foundation_models)
        self.app.get("/v1/models")(self.openai_models)

    def _record(self, request: Request) -> None:
        self.requests.append((request.url.path, dict(request.query_params), dict(request.headers)))

    async def foundation_models(self, request: Request) -> JSONResponse:
        self._record(request)
        if self.fail:
            status, code = self.fail
            return JSONResponse({"message": "no"}, status_code=status, headers={"x-amzn-ErrorType": code})
        return JSONResponse({"modelSummaries": SUMMARIES})

    async def openai_models(self, request: Request) -> JSONResponse:
        self._record(request)
        if self.fail:
            return JSONResponse({"error": {"message": "no"}}, status_code=self.fail[0])
        if self.garbage:
            return JSONResponse({"models": "none"})
        return JSONResponse({"object": "list", "data": OPENAI_MODELS})


@pytest.fixture
def fake(serve: Serve) -> Iterator[tuple[FakeProviders, str]]:
    providers = FakeProviders()
    with serve(providers.app) as url:
        yield providers, url


@pytest.fixture
def admin_api(
    fake: tuple[FakeProviders, str],
    tmp_path: Path,
    settings_for: Callable[..., Any],
    start_app: Callable[[Any], AbstractContextManager[Any]],
    auth: Callable[..., dict[str, str]],
) -> Iterator[Callable[..., httpx.Client]]:
    """`admin_api(**settings)`: a client of an app with these settings, as an administrator."""
    with_apps: list[AbstractContextManager[Any]] = []
    clients: list[httpx.Client] = []

    def make(*, roles: tuple[str, ...] = ("admin",), **overrides: Any) -> httpx.Client:
        context = start_app(settings_for(tmp_path / f"app{len(with_apps)}", **overrides))
        with_apps.append(context)
        live = context.__enter__()
        client = httpx.Client(base_url=live.base_url, headers=auth("root", roles=list(roles)), timeout=30)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
    for context in reversed(with_apps):
        context.__exit__(None, None, None)


class TestBedrock:
    def test_lists_foundation_models_newest_ids_first_with_the_filters_passed_on(
        self, fake: tuple[FakeProviders, str], admin_api: Callable[..., httpx.Client]
    ) -> None:
        providers, url = fake
        client = admin_api(bedrock_control_endpoint_url=url)
        params = {"by_provider": "Anthropic", "by_output_modality": "TEXT", "by_inference_type": "ON_DEMAND"}
        response = client.get("/admin/bedrock/models", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert [model["modelId"] for model in body["models"]] == [
            "anthropic.claude-3-haiku-20240307-v1:0",
            "anthropic.claude-3-5-haiku-20241022-v1:0",
        ]
        assert (body["totalCount"], body["nextToken"]) == (2, None)
        assert body["models"][1] == {
            "modelId": "anthropic.claude-3-5-haiku-20241022-v1:0",
            "modelName": "Claude 3.5 Haiku",
            "providerName": "Anthropic",
            "inputModalities": ["TEXT"],
            "outputModalities": ["TEXT"],
            "responseStreamingSupported": True,
            "customizationsSupported": ["FINE_TUNING"],
            "inferenceTypesSupported": ["INFERENCE_PROFILE"],
            "modelLifecycle": "LEGACY",
        }
        path, query, headers = providers.requests[-1]
        assert path == "/foundation-models"
        assert query == {
            "byProvider": "Anthropic",
            "byOutputModality": "TEXT",
            "byInferenceType": "ON_DEMAND",
        }
        assert headers["authorization"].startswith("AWS4-HMAC-SHA256")  # signed with the credential chain

    def test_max_results_cuts_the_sorted_list(
        self, fake: tuple[FakeProviders, str], admin_api: Callable[..., httpx.Client]
    ) -> None:
        client = admin_api(bedrock_control_endpoint_url=fake[1])
        body = client.get("/admin/bedrock/models", params={"max_results": 1}).json()
        assert [model["modelId"] for model in body["models"]] == ["anthropic.claude-3-haiku-20240307-v1:0"]
        assert body["totalCount"] == 1

    def test_a_refusal_is_a_502_with_the_error_body(
        self, fake: tuple[FakeProviders, str], admin_api: Callable[..., httpx.Client], check_error: CheckError
    ) -> None:
        providers, url = fake
        providers.fail = (403, "AccessDeniedException")
        error = check_error(
            admin_api(bedrock_control_endpoint_url=url).get("/admin/bedrock/models"), 502, "model_error"
        )
        assert (
            "AccessDeniedException" not in error["message"]
        )  # the code goes to the log, with the request id
        assert error["message"] == "Bedrock refused to list its models; see the service log."

    def test_an_unreachable_endpoint_is_a_503(
        self, admin_api: Callable[..., httpx.Client], check_error: CheckError
    ) -> None:
        client = admin_api(bedrock_control_endpoint_url="http://127.0.0.1:9", aws_max_attempts=1)
        check_error(client.get("/admin/bedrock/models"), 503, "service_unavailable")

    def test_without_aws_credentials_bedrock_is_not_configured(
        self,
        fake: tuple[FakeProviders, str],
        admin_api: Callable[..., httpx.Client],
        check_error: CheckError,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        providers, url = fake
        for name in [name for name in os.environ if name.startswith("AWS_") and "FILE" not in name]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        error = check_error(
            admin_api(bedrock_control_endpoint_url=url).get("/admin/bedrock/models"),
            503,
            "service_unavailable",
        )
        assert "not configured" in error["message"]
        assert providers.requests == []

    def test_filters_outside_the_apis_values_are_422(
        self, admin_api: Callable[..., httpx.Client], check_error: CheckError
    ) -> None:
        client = admin_api()
        for params in ({"by_output_modality": "SMELL"}, {"by_provider": "a/b"}, {"max_results": 0}):
            check_error(client.get("/admin/bedrock/models", params=params), 422, "validation_error")

    def test_administrators_only(
        self, admin_api: Callable[..., httpx.Client], check_error: CheckError
    ) -> None:
        client = admin_api(roles=())
        for path in ("/admin/bedrock/models", "/admin/openai/models", "/admin/gemini/models"):
            check_error(client.get(path), 403, "forbidden")


class TestOpenAI:
    def test_lists_the_endpoints_models_newest_first_with_the_key(
        self, fake: tuple[FakeProviders, str], admin_api: Callable[..., httpx.Client]
    ) -> None:
        providers, url = fake
        client = admin_api(openai_base_url=f"{url}/v1", openai_api_key="sk-test")
        body = client.get("/admin/openai/models").json()
        assert body == {
            "models": [
                {"id": "new-model", "created": 1_700_000_000, "ownedBy": "library", "object": "model"},
                {"id": "old-model", "created": 1_600_000_000, "ownedBy": "system", "object": "model"},
                {"id": "undated", "created": None, "ownedBy": "me", "object": "model"},
            ],
            "totalCount": 3,
        }
        assert providers.requests[-1][2]["authorization"] == "Bearer sk-test"
        assert client.get("/admin/openai/models", params={"max_results": 2}).json()["totalCount"] == 2

    def test_a_keyless_local_endpoint_is_enough(
        self, fake: tuple[FakeProviders, str], admin_api: Callable[..., httpx.Client]
    ) -> None:
        providers, url = fake
        assert admin_api(openai_base_url=f"{url}/v1/").get("/admin/openai/models").json()["totalCount"] == 3
        assert "authorization" not in providers.requests[-1][2]

    def test_nothing_configured_is_a_503_saying_what_to_set(
        self, admin_api: Callable[..., httpx.Client], check_error: CheckError
    ) -> None:
        error = check_error(admin_api().get("/admin/openai/models"), 503, "service_unavailable")
        assert "CHAT_OPENAI_BASE_URL" in error["message"]

    @pytest.mark.parametrize(("status", "code"), [(401, "model_error"), (500, "model_error")])
    def test_a_refusal_is_a_502(
        self,
        fake: tuple[FakeProviders, str],
        admin_api: Callable[..., httpx.Client],
        check_error: CheckError,
        status: int,
        code: str,
    ) -> None:
        providers, url = fake
        providers.fail = (status, "")
        check_error(admin_api(openai_base_url=f"{url}/v1").get("/admin/openai/models"), 502, code)

    def test_an_unreadable_answer_is_a_502(
        self, fake: tuple[FakeProviders, str], admin_api: Callable[..., httpx.Client], check_error: CheckError
    ) -> None:
        providers, url = fake
        providers.garbage = True
        check_error(admin_api(openai_base_url=f"{url}/v1").get("/admin/openai/models"), 502, "model_error")

    def test_an_unreachable_endpoint_is_a_503(
        self, admin_api: Callable[..., httpx.Client], check_error: CheckError
    ) -> None:
        client = admin_api(openai_base_url="http://127.0.0.1:9/v1")
        check_error(client.get("/admin/openai/models"), 503, "service_unavailable")


class TestGemini:
    def test_gemini_is_not_configured(
        self, admin_api: Callable[..., httpx.Client], check_error: CheckError
    ) -> None:
        error = check_error(admin_api().get("/admin/gemini/models"), 503, "service_unavailable")
        assert "Gemini is not configured" in error["message"]
