"""Both services over real HTTP, once per storage backend, as the frontend reaches them.

Per backend (`sqlite` files in a temporary directory; `aws` on a moto server over HTTP) one app-api
and one inference-api run under uvicorn on free loopback ports for the whole session, sharing one data
directory (knowledge base) and one development secret, with the development model catalogue seeded
and `CHAT_ADMIN_ROLES=Admin` (the role name the client's admin guard checks); app-api's model
discovery lists fake providers (a Bedrock control plane and an OpenAI-compatible `/v1/models`, served
on loopback). Tests stay independent by signing in as fresh users (`frontend_user`).
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).parent))  # the kit beside this file (importlib import mode)

from frontend_kit import (
    ADMIN_ROLE,
    DEV_SECRET,
    FrontendClient,
    Stack,
    UserFactory,
    free_socket,
    new_user_id,
    serve_app,
)

from chat_http.secrets import blob_signing_secret
from chat_storage.aws.testing import start_moto_server


@pytest.fixture(scope="session", autouse=True)
def _isolated_aws_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fake credentials for moto; nothing sees the machine's AWS settings or profiles."""
    nowhere = tmp_path_factory.mktemp("aws-home") / "absent"
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("AWS_", "BOTO_", "CHAT_")):
                patch.delenv(name)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_CONFIG_FILE", str(nowhere))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nowhere))
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield


FOUNDATION_MODELS = [
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
    }
]
OPENAI_MODELS = [{"id": "llama-3.1-8b", "object": "model", "created": 1_721_000_000, "owned_by": "library"}]


def _fake_providers() -> Any:
    """A Bedrock control plane (`ListFoundationModels`) and an OpenAI-compatible `/v1/models`."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/foundation-models")
    async def foundation_models() -> dict[str, Any]:
        return {"modelSummaries": FOUNDATION_MODELS}

    @app.get("/v1/models")
    async def openai_models() -> dict[str, Any]:
        return {"object": "list", "data": OPENAI_MODELS}

    return app


@pytest.fixture(scope="session")
def providers_url() -> Iterator[str]:
    """The fake model providers the admin discovery pages list, for the whole session."""
    with serve_app(_fake_providers(), free_socket()) as url:
        yield url


@contextmanager
def _run_stack(
    backend: str, data_dir: Path, moto_endpoint: str | None, providers_url: str
) -> Iterator[Stack]:
    from app_api.config import Settings as AppSettings
    from app_api.main import create_app as create_app_api
    from app_api.seed import seed_storage
    from inference_api.config import Settings as InferenceSettings
    from inference_api.main import create_app as create_inference_api

    app_sock, inference_sock = free_socket(), free_socket()
    app_url = f"http://127.0.0.1:{app_sock.getsockname()[1]}"
    shared: dict[str, Any] = {
        "data_dir": data_dir,
        "dev_jwt_secret": SecretStr(DEV_SECRET),
        "admin_roles": frozenset({ADMIN_ROLE}),
        "log_json": False,
        "public_url": app_url,
    }
    if backend == "aws":
        shared |= {
            "storage": "aws",
            "aws_endpoint_url": moto_endpoint,
            "resource_prefix": f"fe{uuid.uuid4().hex[:8]}",
            "aws_connect_timeout": 2.0,
            "aws_max_attempts": 2,
        }
    app_settings = AppSettings(
        _env_file=None,
        ingest_reconcile_seconds=0.2,
        bedrock_control_endpoint_url=providers_url,
        openai_base_url=f"{providers_url}/v1",
        **shared,
    )
    inference_settings = InferenceSettings(_env_file=None, **shared)
    asyncio.run(seed_storage(app_settings, provision=backend == "aws"))
    with (
        serve_app(create_app_api(app_settings), app_sock) as app_base,
        serve_app(create_inference_api(inference_settings), inference_sock) as inference_base,
    ):
        storage = app_settings.storage_config(blob_signing_secret(app_settings))
        yield Stack(backend, app_base, inference_base, data_dir, storage)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server (DynamoDB + S3) on a free loopback port for the whole session."""
    server = start_moto_server()
    yield server.endpoint
    server.stop()


@pytest.fixture(scope="session")
def sqlite_stack(tmp_path_factory: pytest.TempPathFactory, providers_url: str) -> Iterator[Stack]:
    with _run_stack("sqlite", tmp_path_factory.mktemp("fe-sqlite"), None, providers_url) as stack:
        yield stack


@pytest.fixture(scope="session")
def aws_stack(
    tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str, providers_url: str
) -> Iterator[Stack]:
    with _run_stack("aws", tmp_path_factory.mktemp("fe-aws"), moto_endpoint, providers_url) as stack:
        yield stack


@pytest.fixture(params=[pytest.param("sqlite"), pytest.param("aws", marks=pytest.mark.aws)])
def stack(request: pytest.FixtureRequest) -> Stack:
    """Both services of one backend; every test using it runs on sqlite and on moto."""
    found = request.getfixturevalue(f"{request.param}_stack")
    assert isinstance(found, Stack)
    return found


@pytest.fixture
def frontend_user(stack: Stack) -> Iterator[UserFactory]:
    """`frontend_user()` / `frontend_user(admin=True)`: a fresh signed-in user of the client.

    The token carries what the client decodes (email, name, nine-digit employee number) and, for an
    administrator, the `Admin` role.
    """
    clients: list[FrontendClient] = []

    def make(*, admin: bool = False, first_name: str = "Pat") -> FrontendClient:
        user_id = new_user_id()
        client = FrontendClient(
            stack,
            user_id=user_id,
            email=f"{first_name.lower()}.{user_id}@example.edu",
            name=f"{first_name} Tester",
            roles=[ADMIN_ROLE] if admin else [],
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
