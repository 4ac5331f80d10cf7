"""The AgentCore Runtime contract: `/ping` as the bedrock-agentcore SDK answers it, busy while a turn
runs (also after its client left), and SIGTERM waiting for running turns to be stored."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from inference_testing import ScriptedModel, managed_model, serve_app, sse_events, storage_for, text_cycle
from pydantic.warnings import PydanticDeprecatedSince20

from chat_core.ids import SessionId, UserId
from chat_core.messages import MessageStatus
from chat_http.runtime import CUSTOM_HEADER_PREFIX, RUNTIME_SESSION_HEADER, PingStatus
from inference_api.config import Settings
from inference_api.main import create_app

with warnings.catch_warnings():
    # The SDK still declares a pydantic model with a class-based `Config`.
    warnings.simplefilter("ignore", PydanticDeprecatedSince20)
    from bedrock_agentcore.runtime.app import BedrockAgentCoreApp
    from bedrock_agentcore.runtime.models import CUSTOM_HEADER_PREFIX as SDK_CUSTOM_HEADER_PREFIX
    from bedrock_agentcore.runtime.models import SESSION_HEADER as SDK_SESSION_HEADER
    from bedrock_agentcore.runtime.models import PingStatus as SdkPingStatus

Headers = Callable[..., dict[str, str]]
ALICE = UserId("alice")
HELD_ANSWER = "The first words arrive, then the rest of the answer once it is released."
LONG_ANSWER = " ".join(f"word{i}" for i in range(40))


async def sdk_ping(busy: bool) -> dict[str, Any]:
    """What the SDK's own runtime app answers on `/ping`, idle or with a task running."""
    app = BedrockAgentCoreApp()
    if busy:
        app.add_async_task("turn")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sdk") as client:
        response = await client.get("/ping")
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


class HeldModel(ScriptedModel):
    """Streams its first words, then waits until the test releases the rest."""

    def __init__(self, release: threading.Event) -> None:
        super().__init__([text_cycle(HELD_ANSWER, words_per_delta=3)])
        self._release = release

    async def stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        held = False
        async for item in super().stream(*args, **kwargs):
            yield item
            if not held and "contentBlockDelta" in item:
                held = True
                assert await asyncio.to_thread(self._release.wait, 30), "the test never released the turn"


async def ping(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/ping")
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


class TestPing:
    @pytest.mark.asyncio
    async def test_the_answer_has_the_sdks_shape_and_values(self, settings: Settings) -> None:
        assert {status.value for status in PingStatus} == {status.value for status in SdkPingStatus}
        assert (RUNTIME_SESSION_HEADER, CUSTOM_HEADER_PREFIX) == (
            SDK_SESSION_HEADER,
            SDK_CUSTOM_HEADER_PREFIX,
        )
        idle, busy = await sdk_ping(busy=False), await sdk_ping(busy=True)
        assert (idle["status"], busy["status"]) == ("Healthy", "HealthyBusy")
        async with storage_for(settings) as storage:
            await storage.managed_models.create(managed_model())
        with serve_app(create_app(settings)) as url:
            async with httpx.AsyncClient(base_url=url) as client:
                ours = await ping(client)
        assert set(ours) == set(idle)
        assert {key: type(value) for key, value in ours.items()} == {
            key: type(value) for key, value in idle.items()
        }
        assert ours["status"] == idle["status"]
        assert abs(ours["time_of_last_update"] - time.time()) < 60

    @pytest.mark.asyncio
    async def test_busy_while_a_turn_runs_even_after_its_client_left(
        self, settings: Settings, auth: Headers
    ) -> None:
        release = threading.Event()
        async with storage_for(settings) as storage:
            await storage.managed_models.create(managed_model())
            with serve_app(create_app(settings, model_factory=lambda request: HeldModel(release))) as url:
                async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                    idle = await ping(client)
                    assert idle["status"] == "Healthy"
                    before = int(time.time())
                    body = {"session_id": "s-held", "message": "Take your time"}
                    async with client.stream(
                        "POST", "/invocations", json=body, headers=auth("alice")
                    ) as response:
                        async for name, _ in sse_events(response):
                            if name == "content_block_delta":
                                break
                        busy = await ping(client)
                    left = await ping(client)  # the client has disconnected; the turn goes on
                    release.set()
                    deadline = time.monotonic() + 20
                    while (done := await ping(client))["status"] != "Healthy":
                        assert time.monotonic() < deadline, done
                        await asyncio.sleep(0.05)
            messages = (await storage.messages.list(ALICE, SessionId("s-held"))).items
        assert busy["status"] == left["status"] == "HealthyBusy"
        assert busy["time_of_last_update"] >= before >= idle["time_of_last_update"]
        assert left["time_of_last_update"] == busy["time_of_last_update"]
        assert done["time_of_last_update"] >= busy["time_of_last_update"]
        assert messages[1].status is MessageStatus.COMPLETE
        assert messages[1].content[0].text == HELD_ANSWER


_CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    from pydantic import SecretStr
    from inference_testing import ScriptedModels, text_cycle
    from chat_http.app import serve
    from inference_api.config import Settings
    from inference_api.main import create_app

    settings = Settings(_env_file=None, data_dir=sys.argv[2], dev_jwt_secret=SecretStr(sys.argv[3]), log_json=False)
    scripted = ScriptedModels(script=lambda: [text_cycle(sys.argv[5], pause=0.05)])
    serve(create_app(settings, model_factory=scripted), settings, service="inference-api", host="127.0.0.1",
          port=int(sys.argv[4]))
    """
)


class TestSigterm:
    @pytest.mark.asyncio
    async def test_sigterm_waits_for_the_running_turn_to_be_stored(
        self, settings: Settings, auth: Headers, tmp_path: Path
    ) -> None:
        """As when the runtime ends a session (idle timeout, maximum lifetime) while an answer runs on."""
        assert settings.dev_jwt_secret is not None
        async with storage_for(settings) as storage:
            await storage.managed_models.create(managed_model())
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        tests = str(Path(__file__).parent)
        secret = settings.dev_jwt_secret.get_secret_value()
        child = await asyncio.create_subprocess_exec(
            *[sys.executable, "-c", _CHILD, tests, str(settings.data_dir), secret, str(port), LONG_ANSWER],
            env={key: value for key, value in os.environ.items() if not key.startswith(("CHAT_", "OTEL_"))},
            stderr=subprocess.PIPE,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        await ping(client)
                        break
                    except httpx.TransportError:
                        assert child.returncode is None, "the service stopped"
                        assert time.monotonic() < deadline, "the service did not start"
                        await asyncio.sleep(0.1)
                body = {"session_id": "s-term", "message": "Keep going"}
                async with client.stream(
                    "POST", "/invocations", json=body, headers=auth("alice")
                ) as response:
                    async for name, _ in sse_events(response):
                        if name == "content_block_delta":
                            break
            signalled = time.monotonic()
            child.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(child.communicate(), timeout=60)
            waited = time.monotonic() - signalled
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
        log = stderr.decode()
        # uvicorn shuts down gracefully, then re-raises the signal: the exit status of a process that
        # SIGTERM stopped, as container runtimes expect.
        assert child.returncode in (0, -signal.SIGTERM), log[-3000:]
        assert "Application shutdown complete" in log
        assert waited > 0.5, "the process stopped without waiting for the turn"
        async with storage_for(settings) as storage:
            messages = (await storage.messages.list(ALICE, SessionId("s-term"))).items
        assert [message.status for message in messages] == [MessageStatus.COMPLETE, MessageStatus.COMPLETE]
        assert messages[1].content[0].text == LONG_ANSWER


class TestReady:
    @pytest.mark.asyncio
    async def test_ready_when_storage_answers(self, settings: Settings) -> None:
        with serve_app(create_app(settings)) as url:
            async with httpx.AsyncClient(base_url=url) as client:
                response = await client.get("/ready")
        assert (response.status_code, response.json()) == (200, {"status": "ready", "storage": "sqlite"})

    @pytest.mark.asyncio
    async def test_a_silent_storage_endpoint_is_a_503_within_the_deadline(
        self, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "absent"))
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        with socket.socket() as silent:  # accepts connections (the backlog) and never answers
            silent.bind(("127.0.0.1", 0))
            silent.listen(16)
            hung = settings.model_copy(
                update={
                    "storage": "aws",
                    "aws_endpoint_url": f"http://127.0.0.1:{silent.getsockname()[1]}",
                    "health_timeout": 0.5,
                }
            )
            with serve_app(create_app(hung)) as url:
                async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                    started = time.monotonic()
                    response = await client.get("/ready")
                    elapsed = time.monotonic() - started
                    busy = await ping(client)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "service_unavailable"
        assert response.headers["retry-after"] == "5"
        assert elapsed < 3
        assert busy["status"] == "Healthy"  # /ping never waits for storage
