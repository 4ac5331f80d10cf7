"""Request context: an `X-Request-ID` on every response, a timed access log line, and the last-resort 500."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chat_core.logs import request_id_var
from chat_http.errors import internal_error_response

__all__ = ["RequestContextMiddleware"]

_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestContextMiddleware:
    """Pure ASGI (safe with streaming responses).

    A client's `X-Request-ID` is kept when it is a plain token, so a trace can span both services.
    """

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self._access = logging.getLogger(f"{service.replace('-', '_')}.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request with its id set for logs and headers."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = supplied if _CLIENT_ID.fullmatch(supplied) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # JUSTIFICATION: the service boundary: logged with its traceback, answered as a generic 500.
            self._access.exception("unhandled error")
            if not response_started:
                await internal_error_response()(scope, receive, send_with_id)
        finally:
            self._access.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "durationMs": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(token)
