"""The one place where errors become HTTP responses with the documented error body.

`{"error": {"code", "message", "detail", "field", "requestId"}}`; unexpected exceptions become a
generic `internal_error` with nothing of their text, stack or SQL. (A failure after a stream started
is the `stream_error` event of `chat_agent.streaming`, with the same code and message.)
"""

from __future__ import annotations

import logging
import re
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.models import Schema
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from chat_core.errors import ChatError, ErrorCode, QuotaExceededError, RateLimitError, UnavailableError
from chat_core.logs import request_id_var

__all__ = [
    "STATUS_BY_CODE",
    "ErrorBody",
    "ErrorDetail",
    "add_exception_handlers",
    "document_error_body",
    "error_doc",
    "error_response",
    "error_responses",
    "internal_error_response",
]

logger = logging.getLogger(__name__)

STATUS_BY_CODE: Final[dict[ErrorCode, int]] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.VALIDATION_ERROR: 422,
    ErrorCode.RATE_LIMIT_EXCEEDED: 429,
    ErrorCode.QUOTA_EXCEEDED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.TIMEOUT: 504,
    ErrorCode.MODEL_ERROR: 502,
    ErrorCode.STREAM_ERROR: 500,
}
_CODE_BY_STATUS: Final[dict[int, ErrorCode]] = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.BAD_REQUEST,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.VALIDATION_ERROR,
    415: ErrorCode.VALIDATION_ERROR,
    429: ErrorCode.RATE_LIMIT_EXCEEDED,
}


class ErrorDetail(BaseModel):
    """The `error` object of every error response."""

    code: ErrorCode
    message: str
    detail: Any = None
    field: str | None = None
    requestId: str | None = None


class ErrorBody(BaseModel):
    """What every non-2xx response carries (declared in OpenAPI for the frontend)."""

    error: ErrorDetail


_REF_TEMPLATE: Final = "#/components/schemas/{model}"
_ERROR_BODY_REF: Final = {"$ref": _REF_TEMPLATE.format(model="ErrorBody")}

_DESCRIPTIONS: Final[dict[int, str]] = {
    400: "The request cannot be carried out as asked",
    401: "Missing or invalid bearer token",
    403: "The caller may not do this",
    404: "Not found (or not visible to the caller)",
    409: "Conflicts with the current state",
    413: "The body is larger than allowed",
    422: "Invalid request",
    429: "A limit or quota would be exceeded",
    500: "Unexpected error",
    502: "The model provider failed",
    503: "A dependency is unavailable",
}


def error_doc(description: str) -> dict[str, Any]:
    """An OpenAPI `responses` entry for an error status: `description`, with `ErrorBody` as its body.

    The body is a reference to the schema (which `document_error_body` puts in the components once),
    not `{"model": ErrorBody}`: for a `model`, FastAPI builds a serializer per route and status that
    only the document uses, about 0.1 ms each when the app starts and again when a router is first
    reached (several hundred in app-api).
    """
    return {"description": description, "content": {"application/json": {"schema": dict(_ERROR_BODY_REF)}}}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the error statuses a route can answer (all with `ErrorBody`)."""
    return {status: error_doc(_DESCRIPTIONS[status]) for status in statuses}


def document_error_body(app: FastAPI) -> None:
    """Make `app`'s OpenAPI document hold the schema of `ErrorBody` that `error_doc` entries refer to.

    Written as FastAPI writes the schemas of response models (serialization mode, no null defaults),
    so the document is the same as with `{"model": ErrorBody}` entries.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()  # FastAPI's, cached until the routes change
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        if "ErrorBody" not in schemas:
            body = ErrorBody.model_json_schema(ref_template=_REF_TEMPLATE, mode="serialization")
            for name, schema in {**body.pop("$defs", {}), "ErrorBody": body}.items():
                schemas.setdefault(name, jsonable_encoder(Schema(**schema), by_alias=True, exclude_none=True))
            document["components"]["schemas"] = dict(sorted(schemas.items()))
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the document


def error_response(
    status_code: int,
    code: ErrorCode,
    message: str,
    *,
    detail: Any = None,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Build the documented error body with the current request id."""
    body = {
        "error": {
            "code": code.value,
            "message": message,
            "detail": detail,
            "field": field,
            "requestId": request_id_var.get(),
        }
    }
    return JSONResponse(status_code=status_code, content=body, headers=headers)


def internal_error_response() -> JSONResponse:
    """The generic 500: nothing of the exception reaches the client."""
    return error_response(
        500, ErrorCode.INTERNAL_ERROR, "An unexpected error occurred. Please try again later."
    )


def _retry_after(exc: ChatError) -> int | None:
    if isinstance(exc, UnavailableError | RateLimitError | QuotaExceededError):
        return exc.retry_after
    return None


async def _handle_chat_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ChatError)
    status_code = STATUS_BY_CODE[exc.code]
    if status_code >= 500:
        logger.error("request failed: %s", exc.code.value, exc_info=exc)
    wait = _retry_after(exc)
    headers = {} if wait is None else {"Retry-After": str(wait)}
    if isinstance(exc, RateLimitError) and isinstance(exc.detail, dict):
        fields = {"RateLimit-Limit": "limit", "RateLimit-Remaining": "remaining", "RateLimit-Reset": "reset"}
        headers |= {header: str(exc.detail[name]) for header, name in fields.items() if name in exc.detail}
    return error_response(
        status_code, exc.code, exc.message, detail=exc.detail, field=exc.field, headers=headers or None
    )


async def _handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"field": ".".join(str(part) for part in error["loc"] if part != "body"), "message": error["msg"]}
        for error in exc.errors()
    ]
    first = problems[0]["field"] if problems else None
    return error_response(
        422, ErrorCode.VALIDATION_ERROR, "The request is not valid.", detail=problems, field=first or None
    )


def _allowed_methods(request: Request) -> str | None:
    """The methods the API documents for this path, from its most specific template (fewest parameters).

    Starlette would name only the methods of the first route that matched the path.
    """
    path = request.url.path
    by_specificity: dict[int, set[str]] = {}
    for template, operations in request.app.openapi().get("paths", {}).items():
        pattern = re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            by_specificity.setdefault(template.count("{"), set()).update(
                method.upper() for method in operations
            )
    return ", ".join(sorted(by_specificity[min(by_specificity)])) if by_specificity else None


async def _handle_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODE_BY_STATUS.get(exc.status_code, ErrorCode.INTERNAL_ERROR)
    message = "No such route." if exc.status_code == 404 else str(exc.detail)
    headers = dict(exc.headers or {})
    if exc.status_code == 405 and (allowed := _allowed_methods(request)):
        headers["Allow"] = allowed
    return error_response(exc.status_code, code, message, headers=headers)


def add_exception_handlers(app: FastAPI) -> None:
    """Register the handlers; unexpected exceptions are handled by the request-context middleware."""
    app.add_exception_handler(ChatError, _handle_chat_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_error)
