"""Error statuses are documented by a reference to `ErrorBody`, whose schema the document holds once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from pydantic import SecretStr

from chat_http.app import create_service_app
from chat_http.errors import ErrorBody, error_doc, error_responses
from chat_http.settings import EdgeSettings


@asynccontextmanager
async def _no_resources(app: FastAPI) -> AsyncIterator[None]:
    yield


def _app(tmp_path: Path, *, model_route: bool = False) -> tuple[FastAPI, APIRouter]:
    settings = EdgeSettings(_env_file=None, data_dir=tmp_path, dev_jwt_secret=SecretStr("x" * 40))
    app = create_service_app(settings, service="t", title="t", version="1", lifespan=_no_resources)
    router = APIRouter(prefix="/things", responses=error_responses(403))

    @router.get("/{thing_id}", responses={**error_responses(404), 409: error_doc("Busy")})
    async def get_thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    app.include_router(router, responses=error_responses(429))
    if model_route:

        @app.get("/modelled", responses={404: {"model": ErrorBody, "description": "Not found"}})
        async def modelled() -> None:
            return None

    return app, router


def test_every_error_status_refers_to_the_error_body_schema_in_the_components(tmp_path: Path) -> None:
    document = _app(tmp_path)[0].openapi()
    responses = document["paths"]["/things/{thing_id}"]["get"]["responses"]
    for status in ("401", "403", "404", "409", "422", "429", "500", "503"):
        assert responses[status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"
        }, status
    assert responses["409"]["description"] == "Busy"
    schemas = document["components"]["schemas"]
    assert schemas["ErrorBody"]["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}
    assert schemas["ErrorDetail"]["required"] == ["code", "message"]
    assert "default" not in schemas["ErrorDetail"]["properties"]["detail"]  # as FastAPI writes models
    assert "ErrorCode" in schemas


def test_the_schema_is_the_one_fastapi_writes_for_a_response_model(tmp_path: Path) -> None:
    referenced = _app(tmp_path)[0].openapi()["components"]["schemas"]
    modelled = _app(tmp_path, model_route=True)[0].openapi()["components"]["schemas"]
    for name in ("ErrorBody", "ErrorDetail", "ErrorCode"):
        assert referenced[name] == modelled[name], name


def test_no_route_builds_a_serializer_for_its_error_statuses(tmp_path: Path) -> None:
    _, router = _app(tmp_path)
    (route,) = router.routes
    assert isinstance(route, APIRoute)
    assert set(route.responses) == {403, 404, 409}
    assert route.response_fields == {}  # FastAPI builds one per `{"model": ...}` entry
