"""The same turns on the production backend: DynamoDB and S3 served by moto over HTTP."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from inference_testing import (
    ScriptedModels,
    managed_model,
    post_turn,
    seed_tools,
    serve_app,
    storage_for,
    text_cycle,
    validate_events,
)

from chat_core.costs import period_of
from chat_core.files import FileUpload
from chat_core.ids import SessionId, UploadId, UserId
from chat_storage.aws import provision
from chat_storage.aws.testing import start_moto_server
from inference_api.config import Settings
from inference_api.main import create_app

Headers = Callable[..., dict[str, str]]
ALICE = UserId("alice")


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = start_moto_server()
    yield server.endpoint
    server.stop()


@pytest.fixture
def aws_settings(
    settings: Settings, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Settings:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return settings.model_copy(
        update={
            "storage": "aws",
            "aws_endpoint_url": moto_endpoint,
            "resource_prefix": f"t{uuid.uuid4().hex[:10]}",
        }
    )


@pytest.mark.aws
@pytest.mark.asyncio
async def test_turns_are_stored_and_counted_on_dynamodb_and_s3(aws_settings: Settings, auth: Headers) -> None:
    config = aws_settings.storage_config("")
    await provision(config)  # type: ignore[arg-type]
    scripted = ScriptedModels(script=lambda: [text_cycle("Stored in DynamoDB.", pause=0.002)])
    async with storage_for(aws_settings) as storage:
        await storage.managed_models.create(managed_model(input_price=1.0, output_price=1.0))
        data = b"A small attachment kept in S3."
        upload = FileUpload(
            upload_id=UploadId("up-s3"),
            user_id=ALICE,
            session_id=SessionId("aws-chat"),
            filename="note.txt",
            mime_type="text/plain",
            size_bytes=len(data),
            storage_key="user-files/alice/aws-chat/up-s3/note.txt",
        )
        await storage.files.reserve(upload, quota_bytes=1_000_000)
        await storage.blobs.put(upload.storage_key, data, content_type="text/plain")
        await storage.files.mark_ready(ALICE, upload.upload_id)

        with serve_app(create_app(aws_settings, model_factory=scripted)) as url:
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                first = await post_turn(
                    client,
                    auth("alice"),
                    session_id="aws-chat",
                    message="Read this",
                    file_upload_ids=["up-s3"],
                )
                concurrent = await asyncio.gather(
                    *(
                        post_turn(client, auth("alice"), session_id="aws-chat", message=f"q{i}")
                        for i in range(4)
                    )
                )
                foreign = await post_turn(
                    client, auth("bob"), session_id="aws-chat", message="Mine?", file_upload_ids=["up-s3"]
                )
        assert first.status == 200
        validate_events(first.events)
        assert [turn.status for turn in concurrent] == [200] * 4
        assert foreign.status == 404
        document = scripted.models[0].calls[0]["messages"][-1]["content"][1]["document"]
        assert document["source"]["bytes"] == data

        session = await storage.sessions.get(ALICE, SessionId("aws-chat"))
        assert session is not None
        assert session.message_count == 5
        messages = (await storage.messages.list(ALICE, SessionId("aws-chat"))).items
        assert [m.index for m in messages] == list(range(10))
        assert [m.role for m in messages] == ["user", "assistant"] * 5
        assert sorted(m.content[0].text or "" for m in messages if m.role == "user") == [
            "Read this",
            "q0",
            "q1",
            "q2",
            "q3",
        ]
        summary = await storage.costs.summary(ALICE, period_of(messages[-1].created_at))
        assert summary.total_requests == 5


@pytest.mark.aws
@pytest.mark.asyncio
async def test_roles_store_down_is_503_never_allowed_nor_403(aws_settings: Settings, auth: Headers) -> None:
    """With the role catalogue unreadable (its server stopped, cache expired) a turn is a 503."""
    server = start_moto_server()
    settings = aws_settings.model_copy(
        update={
            "aws_endpoint_url": server.endpoint,
            "roles_cache_seconds": 0,
            "aws_connect_timeout": 1.0,
            "aws_max_attempts": 1,
            "rate_limits_enabled": False,  # the rate-limit counter would fail first (also a 503)
        }
    )
    try:
        await provision(settings.storage_config(""))  # type: ignore[arg-type]
        async with storage_for(settings) as storage:
            await storage.managed_models.create(managed_model())
            await seed_tools(storage)
        scripted = ScriptedModels()
        with serve_app(create_app(settings, model_factory=scripted)) as url:
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                body = {"session_id": "s-down", "message": "Hi", "enabled_tools": ["calculator"]}
                before = await post_turn(client, auth("alice"), **body)
                server.stop()
                during = await post_turn(client, auth("alice"), **body)
    finally:
        server.stop()
    assert before.status == 200
    assert during.status == 503
    assert during.error is not None
    assert during.error["code"] == "service_unavailable"
    assert "list roles" in during.error["message"]
    assert during.headers.get("retry-after")
    assert len(scripted.models) == 1, "no model ran for the refused turn"
