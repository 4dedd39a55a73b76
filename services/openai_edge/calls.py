"""The gateway as one HTTP request uses it: every call carries the request's bearer token (the gateway authenticates
the edge's caller, never the edge) and its trace context, and a failed call becomes an OpenAIError."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request

from llama.inspect.v1 import inspect_pb2
from llama_mesh.runtime.errors import MeshError
from llama_mesh.runtime.gateway_client import GatewayClient, Metadata
from services.openai_edge.errors import FieldNames, from_mesh_error

Reply = TypeVar("Reply")

# Passed on as they came when the edge does not trace; when it does, its gRPC client tracing sends the context of
# its own span, a child of the request's (see app.TraceContext).
TRACE_HEADERS = ("traceparent", "tracestate")


def forwarded_metadata(request: Request, traced: bool) -> Metadata:
    metadata: list[tuple[str, str]] = []
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        metadata.append(("authorization", f"Bearer {token.strip()}"))
    if not traced:
        metadata.extend((name, request.headers[name]) for name in TRACE_HEADERS if name in request.headers)
    return tuple(metadata)


class MeshCalls:
    """Calls through the gateway on behalf of one HTTP request."""

    def __init__(self, client: GatewayClient, metadata: Metadata, timeout: float) -> None:
        self.client = client
        self.metadata = metadata
        self.timeout = timeout

    async def call(
        self, method: Callable[..., Awaitable[Reply]], request: object, names: FieldNames | None = None
    ) -> Reply:
        try:
            return await self.client.call(method, request, self.timeout, self.metadata)
        except MeshError as error:
            raise from_mesh_error(error, names or {}) from error

    async def stream(
        self, method: Callable[..., Any], request: object, names: FieldNames | None = None
    ) -> AsyncIterator[Any]:
        """The messages of a server stream; closing this iterator cancels the call (and so the engine's work)."""
        messages = self.client.stream(method, request, self.timeout, self.metadata)
        try:
            async for message in messages:
                yield message
        except MeshError as error:
            raise from_mesh_error(error, names or {}) from error
        finally:
            await messages.aclose()


def mesh_calls(request: Request) -> MeshCalls:
    """FastAPI dependency: the calls of this request."""
    state = request.app.state
    return MeshCalls(state.gateway, forwarded_metadata(request, state.traced), state.settings.call_timeout_seconds)


Mesh = Annotated[MeshCalls, Depends(mesh_calls)]


async def authenticated(mesh: Mesh) -> None:
    """FastAPI dependency of the routes the edge answers from its own records (files, vector stores): the gateway
    still decides who the caller is first (401 for a token it does not know), as for every other route."""
    await mesh.call(mesh.client.inspect.GetVersion, inspect_pb2.GetVersionRequest())
