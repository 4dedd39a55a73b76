"""Errors in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, with the HTTP status that matches the
gRPC status of the call that failed; never a stack trace.

A failed call through the gateway (RemoteError) keeps its status code and ErrorInfo: the ErrorInfo's `field`, a
path in the gRPC request (`sampling_params.max_tokens`), is named as the OpenAI parameter it came from (`max_tokens`)
with the endpoint's FieldNames.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from llama_mesh.runtime.errors import MeshError

log = logging.getLogger(__name__)

# gRPC status -> (HTTP status, OpenAI error type)
_HTTP_STATUS: dict[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (400, "invalid_request_error"),
    grpc.StatusCode.OUT_OF_RANGE: (400, "invalid_request_error"),
    grpc.StatusCode.FAILED_PRECONDITION: (400, "invalid_request_error"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "authentication_error"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "permission_error"),
    grpc.StatusCode.NOT_FOUND: (404, "not_found_error"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "conflict_error"),
    grpc.StatusCode.ABORTED: (409, "conflict_error"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "rate_limit_error"),
    grpc.StatusCode.CANCELLED: (499, "cancelled"),
    grpc.StatusCode.UNIMPLEMENTED: (501, "not_implemented_error"),
    grpc.StatusCode.UNAVAILABLE: (503, "service_unavailable_error"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, "timeout_error"),
}
_TYPE_BY_HTTP_STATUS = {status: kind for status, kind in _HTTP_STATUS.values()} | {
    408: "invalid_request_error",
    413: "invalid_request_error",
}

# Which gRPC request field is which OpenAI parameter, for one endpoint: the longest matching prefix of a field path
# is replaced (`messages[2].content` keeps its index part). Fields not listed are named as they are.
FieldNames = Mapping[str, str]


class OpenAIError(Exception):
    """An error answered in OpenAI's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        kind: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.kind = kind or _TYPE_BY_HTTP_STATUS.get(
            status, "server_error" if status >= 500 else "invalid_request_error"
        )
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def bad_request(param: str, message: str, code: str = "invalid_value") -> OpenAIError:
    """A 400 naming the parameter at fault; the message starts with its name."""
    return OpenAIError(400, f"{param}: {message}", param=param, code=code)


def not_found(message: str, param: str | None = None) -> OpenAIError:
    return OpenAIError(404, message, param=param, code="not_found")


def openai_param(field: str, names: FieldNames) -> str:
    """The OpenAI parameter a gRPC request field path came from."""
    for prefix in sorted(names, key=len, reverse=True):
        if field == prefix or field.startswith((f"{prefix}.", f"{prefix}[")):
            return names[prefix] + field[len(prefix) :]
    return field


def _same_again(code: grpc.StatusCode, reason: str) -> bool:
    """A RESOURCE_EXHAUSTED (429, which OpenAI's SDKs retry) that a retry would meet again: a reply past what a message
    may hold (REPLY_TOO_LARGE, after all the generation), or gRPC's own message size limit (no reason of the mesh's)."""
    return code == grpc.StatusCode.RESOURCE_EXHAUSTED and reason in ("", "RESOURCE_EXHAUSTED", "REPLY_TOO_LARGE")


def from_status(code: grpc.StatusCode, message: str, reason: str = "", param: str | None = None) -> OpenAIError:
    """The error for a gRPC status (a failed call, or an error sent inside a stream)."""
    status, kind = _HTTP_STATUS.get(code, (500, "server_error"))
    if status == 500:
        log.warning("gateway call failed: %s %s", code.name, message)
    headers = {"x-should-retry": "false"} if status == 409 or _same_again(code, reason) else None
    return OpenAIError(status, message, param=param, code=reason.lower() or None, kind=kind, headers=headers)


# The request field that names a resource of each kind, for a resource the gateway did not find (its NOT_FOUND
# names the kind and identifier, not the field).
_ROUTING_FIELDS = {"model": "model_id", "shield": "shield_id", "vector_db": "vector_db_id"}


def from_mesh_error(error: MeshError, names: FieldNames = {}) -> OpenAIError:  # noqa: B006 - read only
    field = error.metadata.get("field")
    if field is None and error.code == grpc.StatusCode.NOT_FOUND:
        field = _ROUTING_FIELDS.get(error.metadata.get("kind", "").lower())
    param = openai_param(field, names) if field else None
    message = error.message
    if param and field and message.startswith(f"{field}:"):
        message = f"{param}:{message[len(field) + 1 :]}"
    return from_status(error.code, message, error.reason, param)


# Tags of the request models' discriminated unions (message roles, content part types): pydantic puts the tag in an
# error's location after the list index; OpenAI's parameter names leave it out.
_UNION_TAGS = {"system", "developer", "user", "assistant", "tool", "text", "image_url", "refusal"}


def validation_param(location: Sequence[int | str]) -> str | None:
    """`("body", "messages", 0, "user", "content")` -> `messages[0].content`: pydantic's labels of union members
    (`str`, `list[str]`, `literal[...]`, model class names, tags) are left out."""
    parts = [part for part in location if part not in ("body", "query", "path")]
    name = ""
    for position, part in enumerate(parts):
        if isinstance(part, int):
            name += f"[{part}]"
            continue
        after_index = position > 0 and isinstance(parts[position - 1], int) and position + 1 < len(parts)
        if any(mark in part for mark in "[(',<") or part[:1].isupper() or part in ("str", "int", "float", "bool"):
            continue
        if after_index and part in _UNION_TAGS:
            continue
        name += f".{part}" if name else part
    return name or None


def from_validation_error(error: RequestValidationError) -> OpenAIError:
    """The first problem pydantic found, naming its parameter."""
    problem = error.errors()[0] if error.errors() else {"msg": "invalid request", "loc": ()}
    if problem.get("type") == "json_invalid":
        return OpenAIError(400, "the request body is not valid JSON", code="invalid_json")
    param = validation_param(problem.get("loc", ()))
    message = str(problem.get("msg", "invalid value")).removeprefix("Value error, ")
    if problem.get("type") == "extra_forbidden":
        message = "unrecognized request argument"
    elif problem.get("type") == "missing":
        message = "is required"
    return OpenAIError(400, f"{param}: {message}" if param else message, param=param, code="invalid_value")


async def _openai_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OpenAIError)
    return exc.response()


async def _mesh_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MeshError)
    return from_mesh_error(exc).response()


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return from_validation_error(exc).response()


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    message = {404: f"no route {request.url.path}", 405: f"method {request.method} not allowed on {request.url.path}"}
    return OpenAIError(exc.status_code, message.get(exc.status_code, str(exc.detail))).response()


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error serving %s %s", request.method, request.url.path)
    return OpenAIError(500, "internal error in the OpenAI edge; see its log", code="internal_error").response()


HANDLERS = {
    OpenAIError: _openai_error,
    MeshError: _mesh_error,
    RequestValidationError: _validation_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}
