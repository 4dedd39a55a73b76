"""Per-request provider data: the caller's `x-llama-mesh-provider-data` metadata header (JSON object), which the
gateway passes on. The servicer sets it for the call; providers read keys such as `brave_api_key` from it."""

from __future__ import annotations

import json
from contextvars import ContextVar
from typing import Any

import grpc

from llama_mesh.runtime.errors import InvalidArgument

PROVIDER_DATA_HEADER = "x-llama-mesh-provider-data"

_current: ContextVar[dict[str, Any] | None] = ContextVar("provider_data", default=None)


def parse(context: grpc.aio.ServicerContext) -> dict[str, Any]:
    for key, value in context.invocation_metadata() or ():
        if key == PROVIDER_DATA_HEADER:
            try:
                data = json.loads(value)
            except (TypeError, ValueError) as exc:
                raise InvalidArgument(PROVIDER_DATA_HEADER, "must be a JSON object") from exc
            if not isinstance(data, dict):
                raise InvalidArgument(PROVIDER_DATA_HEADER, "must be a JSON object")
            return data
    return {}


def set_from(context: grpc.aio.ServicerContext) -> None:
    """Makes this call's provider data visible to the providers it runs (each gRPC call runs in its own task)."""
    _current.set(parse(context))


def current() -> dict[str, Any]:
    return _current.get() or {}
