"""Storage outages: with the aws backend's moto server stopped, or its endpoint hung (accepting, never
answering), data routes answer 503 with the error body and `Retry-After` within 5 seconds and `/health`
within its own deadline; a missing table is a 503 too; `/health` reports a full data-directory disk."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app_api.main import create_app
from app_api.seed import seed_storage
from chat_http.settings import EdgeSettings
from chat_storage.aws.testing import start_moto_server
from chat_storage.local.testing import hold_database

CheckError = Callable[..., dict[str, Any]]
Serve = Callable[[FastAPI], AbstractContextManager[str]]

DATA_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/sessions", None),
    ("GET", "/sessions/s-1/metadata", None),
    ("PUT", "/sessions/s-1/metadata", {"title": "x"}),
    ("DELETE", "/sessions/s-1", None),
    ("GET", "/sessions/s-1/messages", None),
    ("GET", "/models", None),
    ("GET", "/assistants", None),
    ("POST", "/assistants", {"name": "x"}),
    ("GET", "/assistants/ast-000000000000", None),
    (
        "POST",
        "/files/presign",
        {"sessionId": "s-1", "filename": "a.txt", "mimeType": "text/plain", "sizeBytes": 1},
    ),
    ("GET", "/files", None),
    ("GET", "/files/quota", None),
    ("GET", "/costs/summary", None),
    ("GET", "/users/search?q=a", None),
    ("POST", "/chat/generate-title", {"session_id": "s-1", "input": "hello"}),
]

ROLE_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/models", None),
    ("GET", "/tools/", None),
    ("GET", "/tools/my-permissions", None),
    ("PUT", "/tools/preferences", {"preferences": {"calculator": False}}),
    ("GET", "/users/me", None),
]
"""Routes that decide with the caller's AppRoles."""


@pytest.fixture
def stopped_storage_app(
    tmp_path: Path,
    aws_settings_for: Callable[..., Any],
    start_app: Callable[[Any], AbstractContextManager[Any]],
) -> Iterator[tuple[Any, Callable[[], None]]]:
    """The app on its own moto server; the second item stops that server."""
    server = start_moto_server()
    stopped = False

    def stop() -> None:
        nonlocal stopped
        server.stop()
        stopped = True

    shipped = defaults_of("aws_connect_timeout", "aws_read_timeout", "aws_max_attempts", "aws_deadline")
    settings = aws_settings_for(tmp_path, server.endpoint, **shipped)
    try:
        with start_app(settings) as live:
            yield live, stop
    finally:
        if not stopped:
            server.stop()


async def timed(
    client: httpx.AsyncClient, method: str, path: str, body: Any, headers: Any
) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await client.request(method, path, json=body, headers=headers)
    return response, time.monotonic() - started


class TestStorageDown:
    @pytest.mark.asyncio
    async def test_data_routes_answer_503_quickly_and_health_reports_it(
        self,
        stopped_storage_app: tuple[Any, Callable[[], None]],
        auth: Callable[..., dict[str, str]],
        check_error: CheckError,
    ) -> None:
        live, stop = stopped_storage_app
        known = auth("known")
        async with httpx.AsyncClient(base_url=live.base_url, timeout=20) as client:
            assert (await client.get("/sessions", headers=known)).status_code == 200
            assert (await client.get("/health")).status_code == 200
            stop()
            calls = [
                (method, path, body, headers)
                for headers in (known, auth("newcomer"))
                for method, path, body in DATA_ROUTES
            ]
            calls.append(("GET", "/health", None, {}))
            results = await asyncio.gather(*(timed(client, *call) for call in calls))
        for (method, path, _, _), (response, elapsed) in zip(calls, results, strict=True):
            error = check_error(response, 503, "service_unavailable")
            assert elapsed < 5, (method, path, elapsed)
            assert int(response.headers["retry-after"]) > 0
            assert "Traceback" not in response.text
            assert error["message"]


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """Accepts connections and never answers: a hung AWS endpoint."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def defaults_of(*names: str) -> dict[str, Any]:
    """The shipped defaults of these settings (the conftest relaxes some for a loaded moto)."""
    return {name: EdgeSettings.model_fields[name].default for name in names}


class TestHungEndpoint:
    @pytest.mark.asyncio
    async def test_data_routes_answer_503_within_5_s_and_health_within_its_own_deadline(
        self,
        tmp_path: Path,
        silent_endpoint: str,
        settings_for: Callable[..., Any],
        serve: Serve,
        auth: Callable[..., dict[str, str]],
        check_error: CheckError,
    ) -> None:
        shipped = defaults_of("aws_connect_timeout", "aws_read_timeout", "aws_max_attempts", "aws_deadline")
        settings = settings_for(
            tmp_path, storage="aws", aws_endpoint_url=silent_endpoint, resource_prefix="hung", **shipped
        )
        calls = [(method, path, body, auth("hung")) for method, path, body in DATA_ROUTES[:6]]
        calls.append(("GET", "/health", None, {}))
        with serve(create_app(settings)) as base_url:
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
                results = await asyncio.gather(*(timed(client, *call) for call in calls))
        for (method, path, _, _), (response, elapsed) in zip(calls, results, strict=True):
            check_error(response, 503, "service_unavailable")
            limit = settings.health_timeout + 0.5 if path == "/health" else 5
            assert elapsed < limit, (method, path, elapsed)


class TestMissingTable:
    def test_a_missing_table_is_503_service_unavailable(
        self,
        tmp_path: Path,
        moto_endpoint: str,
        settings_for: Callable[..., Any],
        serve: Serve,
        auth: Callable[..., dict[str, str]],
        check_error: CheckError,
    ) -> None:
        """As when the endpoint restarted empty: an outage to retry, not an internal error."""
        settings = settings_for(
            tmp_path, storage="aws", aws_endpoint_url=moto_endpoint, resource_prefix="never-provisioned"
        )
        with serve(create_app(settings)) as base_url:
            for response in (
                httpx.get(f"{base_url}/sessions", headers=auth("early")),
                httpx.get(f"{base_url}/health"),
            ):
                error = check_error(response, 503, "service_unavailable")
                assert "ResourceNotFound" not in error["message"]
                assert "NoSuchBucket" not in error["message"]


@pytest.fixture
def tiny_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data directory on an 8 MiB file system: a real tmpfs where mounting is allowed, else a directory
    whose `statvfs` reports what is left of 8 MiB after the files written into it."""
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        command = ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)]
        mounted = subprocess.run(command, capture_output=True, check=False).returncode == 0
    except FileNotFoundError:  # JUSTIFICATION: no mount command: the statvfs stand-in below is used.
        mounted = False
    if not mounted:
        real_statvfs = os.statvfs

        def statvfs(path: Any) -> Any:
            result = real_statvfs(path)
            if not str(path).startswith(str(disk)):
                return result
            used = sum(item.stat().st_size for item in disk.rglob("*") if item.is_file())
            free = max(0, 8 * 1024 * 1024 - used) // result.f_frsize
            return os.statvfs_result((*result[:3], free, free, *result[5:]))

        monkeypatch.setattr(os, "statvfs", statvfs)
    try:
        yield disk
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(directory: Path) -> Path:
    """Write into `directory` until its file system refuses (or 8 MiB are written)."""
    filler = directory / "filler"
    with filler.open("wb") as handle:
        try:
            for _ in range(32):
                handle.write(b"\0" * (256 * 1024))
                handle.flush()
        except OSError as exc:  # JUSTIFICATION: a full disk is what this helper produces.
            if exc.errno != errno.ENOSPC:
                raise
    return filler


class TestFullDisk:
    def test_health_reports_a_full_data_directory_disk(
        self,
        tiny_disk: Path,
        settings_for: Callable[..., Any],
        serve: Serve,
        check_error: CheckError,
    ) -> None:
        settings = settings_for(tiny_disk, health_min_free_bytes=1024 * 1024)
        with serve(create_app(settings)) as base_url:
            assert httpx.get(f"{base_url}/health").status_code == 200
            filler = fill(tiny_disk)
            error = check_error(httpx.get(f"{base_url}/health"), 503, "service_unavailable")
            assert error["detail"]["freeBytes"] < 1024 * 1024
            assert "disk is full" in error["message"]
            filler.unlink()
            assert httpx.get(f"{base_url}/health").status_code == 200


class TestRoleStoreDown:
    def test_app_roles_that_cannot_be_read_are_503_never_allow_nor_403(
        self,
        tmp_path: Path,
        aws_settings_for: Callable[..., Any],
        start_app: Callable[[Any], AbstractContextManager[Any]],
        auth: Callable[..., dict[str, str]],
        check_error: CheckError,
    ) -> None:
        """The role catalogue re-read on every request (TTL 0): with its store down, `/models` and the
        tool routes fail as a 503 naming the roles, not an empty list and not a 403."""
        server = start_moto_server()
        # Without rate limits: a write's rate-limit counter would fail first (also a 503).
        settings = aws_settings_for(
            tmp_path, server.endpoint, roles_cache_seconds=0, aws_max_attempts=1, rate_limits_enabled=False
        )
        try:
            with start_app(settings) as live, httpx.Client(base_url=live.base_url, timeout=20) as client:
                user = auth("member", roles=["Staff"])
                assert client.get("/models", headers=user).status_code == 200
                server.stop()
                for method, path, body in ROLE_ROUTES:
                    response = client.request(method, path, json=body, headers=user)
                    error = check_error(response, 503, "service_unavailable")
                    assert "list roles" in error["message"], (path, error)
        finally:
            server.stop()

    def test_on_sqlite_a_database_another_process_holds_is_503_never_allow_nor_403(
        self,
        tmp_path: Path,
        settings_for: Callable[..., Any],
        start_app: Callable[[Any], AbstractContextManager[Any]],
        auth: Callable[..., dict[str, str]],
        check_error: CheckError,
    ) -> None:
        """The same routes on the embedded backend, whose role store is the local database: held by
        another process (reads fail too, after the busy timeout), they are 503, and 200 once it lets go."""
        settings = settings_for(
            tmp_path, roles_cache_seconds=0, rate_limits_enabled=False, sqlite_busy_timeout_ms=200
        )
        asyncio.run(seed_storage(settings))  # system roles and the tool catalogue
        with start_app(settings) as live, httpx.Client(base_url=live.base_url, timeout=20) as client:
            user = auth("member", roles=["Staff"])
            for method, path, body in ROLE_ROUTES:
                assert client.request(method, path, json=body, headers=user).status_code == 200, path
            with hold_database(settings.data_dir):
                for method, path, body in ROLE_ROUTES:
                    response = client.request(method, path, json=body, headers=user)
                    error = check_error(response, 503, "service_unavailable")
                    assert response.headers["retry-after"], path
                    assert "busy or unreachable" in error["message"], (path, error)
            assert client.get("/models", headers=user).status_code == 200
