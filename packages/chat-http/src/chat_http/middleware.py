"""Request context: request id, access log, request metrics, runtime headers, the last-resort 500.

Every response carries `X-Request-ID`; the request's span is stamped with it when tracing is on.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chat_core.errors import InvalidInputError
from chat_core.logs import request_id_var
from chat_http.errors import STATUS_BY_CODE, error_response, internal_error_response
from chat_http.runtime import read_runtime_headers, runtime_context_var
from chat_http.tracing import REQUEST_ID_ATTRIBUTE

if TYPE_CHECKING:
    from chat_http.metrics import EdgeMetrics

__all__ = ["RUNTIME_SESSION_ATTRIBUTE", "RequestContextMiddleware"]

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
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False
        extra: dict[str, Any] = {}
        if self._tracing:
            trace.get_current_span().set_attribute(REQUEST_ID_ATTRIBUTE, request_id)
        if self._metrics is not None:
            self._metrics.requests_in_progress.inc()

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
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
                self._metrics.requests_in_progress.dec()
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
