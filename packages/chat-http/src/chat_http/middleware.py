"""Request context and request limits, as pure ASGI middleware (safe with streaming responses).

The context: request id, safe response headers, access log, request metrics, runtime headers, the
last-resort 500. Every response carries `X-Request-ID`; the request's span is stamped with it when
tracing is on. The limits: oversized heads and bodies are refused before a route reads them.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chat_core.errors import ErrorCode, InvalidInputError
from chat_core.logs import request_id_var
from chat_http.errors import STATUS_BY_CODE, error_response, internal_error_response
from chat_http.runtime import read_runtime_headers, runtime_context_var
from chat_http.tracing import REQUEST_ID_ATTRIBUTE

if TYPE_CHECKING:
    from chat_http.metrics import EdgeMetrics

__all__ = ["RUNTIME_SESSION_ATTRIBUTE", "RequestContextMiddleware", "RequestLimitsMiddleware"]

_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
RUNTIME_SESSION_ATTRIBUTE = "chat.runtime_session_id"


class RequestContextMiddleware:
    """Pure ASGI (safe with streaming responses).

    A client's `X-Request-ID` is kept when it is a plain token, so a trace can span both services.
    With `agentcore_runtime`, the runtime's headers are read (`chat_http.runtime`) and its session id is
    logged with the request id.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        metrics: EdgeMetrics | None = None,
        tracing: bool = False,
        agentcore_runtime: bool = False,
    ) -> None:
        self.app = app
        self._access = logging.getLogger(f"{service.replace('-', '_')}.access")
        self._metrics = metrics
        self._tracing = tracing
        self._agentcore_runtime = agentcore_runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request with its id set for logs, spans and headers."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = supplied if _CLIENT_ID.fullmatch(supplied) else uuid.uuid4().hex
        authenticated = any(name == b"authorization" for name, _ in scope["headers"])
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False
        extra: dict[str, Any] = {}
        if self._tracing:
            trace.get_current_span().set_attribute(REQUEST_ID_ATTRIBUTE, request_id)

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                headers["X-Content-Type-Options"] = "nosniff"
                json = headers.get("content-type", "").startswith("application/json")
                if authenticated and json and "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"  # a caller's data never sits in a cache
            await send(message)

        try:
            if self._agentcore_runtime:
                await self._serve_on_runtime(scope, receive, send_with_id, extra)
            else:
                await self.app(scope, receive, send_with_id)
        except Exception:
            # JUSTIFICATION: the service boundary: logged with its traceback, answered as a generic 500.
            self._access.exception("unhandled error")
            if not response_started:
                await internal_error_response()(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            self._access.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "durationMs": round(elapsed * 1000, 2),
                    **extra,
                },
            )
            if self._metrics is not None:
                self._metrics.observe_request(scope, status, elapsed)
            request_id_var.reset(token)

    async def _serve_on_runtime(
        self, scope: Scope, receive: Receive, send: Send, extra: dict[str, Any]
    ) -> None:
        try:
            runtime = read_runtime_headers(scope["headers"])
        except InvalidInputError as exc:
            # JUSTIFICATION: a malformed runtime header is the client's error: the 422 error body naming it.
            response = error_response(STATUS_BY_CODE[exc.code], exc.code, exc.message, field=exc.field)
            await response(scope, receive, send)
            return
        if runtime.session_id is not None:
            extra["runtimeSessionId"] = runtime.session_id
            if self._tracing:
                trace.get_current_span().set_attribute(RUNTIME_SESSION_ATTRIBUTE, runtime.session_id)
        context_token = runtime_context_var.set(runtime)
        try:
            await self.app(scope, receive, send)
        finally:
            runtime_context_var.reset(context_token)


class _BodyTooLarge(HTTPException):
    """Raised from `receive` when a body without `Content-Length` grows past its route's limit.

    An `HTTPException`, so that FastAPI passes it on (it turns other errors while reading a body into
    a 400) and the error handlers answer it with the error body.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than the {limit} bytes allowed here.")
        self.limit = limit


class RequestLimitsMiddleware:
    """Refuses oversized requests with the error body before any route reads them.

    A request head over `max_header_bytes` is a 431, a body over its route's limit a 413.

    A declared `Content-Length` over the limit is refused without reading anything; a body sent without
    one is counted as it arrives. Bodies are limited per route class: the first matching path prefix of
    `body_limits`, else `max_body_bytes` (JSON routes).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_header_bytes: int,
        max_body_bytes: int,
        body_limits: Sequence[tuple[str, int]] = (),
    ) -> None:
        self.app = app
        self._max_header_bytes = max_header_bytes
        self._max_body_bytes = max_body_bytes
        self._body_limits = tuple(body_limits)

    def _body_limit(self, path: str) -> int:
        return next(
            (limit for prefix, limit in self._body_limits if path.startswith(prefix)), self._max_body_bytes
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request within the limits."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        head += sum(len(name) + len(value) + 4 for name, value in scope["headers"])
        if head > self._max_header_bytes:
            await error_response(
                431,
                ErrorCode.BAD_REQUEST,
                f"The request headers are larger than the {self._max_header_bytes} bytes allowed.",
                detail={"maxBytes": self._max_header_bytes},
                headers={"Connection": "close"},
            )(scope, receive, send)
            return
        limit = self._body_limit(scope["path"])
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(limit)
            return message

        response_started = False

        async def send_tracking(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive_within_limit, send_tracking)
        except _BodyTooLarge:
            if response_started:
                raise
            await _too_large(limit)(scope, receive, send)


def _too_large(limit: int) -> ASGIApp:
    return error_response(
        413,
        ErrorCode.VALIDATION_ERROR,
        f"The request body is larger than the {limit} bytes allowed here.",
        detail={"maxBytes": limit},
        field="body",
        headers={"Connection": "close"},
    )
