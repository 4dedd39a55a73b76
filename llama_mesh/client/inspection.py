"""`client.inspect`: the mesh's providers, routes, health and version, sync and async."""

# ruff: noqa: ASYNC109 - `timeout` is the gRPC deadline handed to the call, named as grpc.aio names it.

from __future__ import annotations

from llama.inspect.v1 import inspect_pb2, inspect_pb2_grpc
from llama_mesh.client.transport import AsyncTransport, Transport


class Inspect:
    """InspectService calls (blocking)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._stub = inspect_pb2_grpc.InspectServiceStub(transport.channel)

    def providers(self, api: str = "", *, timeout: float | None = None) -> list[inspect_pb2.ProviderInfo]:
        """Every provider of the distribution, or those of one API (e.g. "inference")."""
        request = inspect_pb2.ListProvidersRequest(api=api)
        return list(self._transport.unary(self._stub.ListProviders, request, timeout).providers)

    def routes(self, api: str = "", *, timeout: float | None = None) -> list[inspect_pb2.RouteInfo]:
        """The RPCs the gateway forwards, with the field that routes them and where they go now."""
        request = inspect_pb2.ListRoutesRequest(api=api)
        return list(self._transport.unary(self._stub.ListRoutes, request, timeout).routes)

    def health(self, *, timeout: float | None = None) -> inspect_pb2.GetHealthResponse:
        """The overall status (SERVING when every service serves) and each service's."""
        return self._transport.unary(self._stub.GetHealth, inspect_pb2.GetHealthRequest(), timeout)

    def version(self, *, timeout: float | None = None) -> inspect_pb2.GetVersionResponse:
        """The mesh's version and the distribution it runs."""
        return self._transport.unary(self._stub.GetVersion, inspect_pb2.GetVersionRequest(), timeout)


class AsyncInspect:
    """The async flavour of `Inspect`."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport
        self._stub = inspect_pb2_grpc.InspectServiceStub(transport.channel)

    async def providers(self, api: str = "", *, timeout: float | None = None) -> list[inspect_pb2.ProviderInfo]:
        request = inspect_pb2.ListProvidersRequest(api=api)
        return list((await self._transport.unary(self._stub.ListProviders, request, timeout)).providers)

    async def routes(self, api: str = "", *, timeout: float | None = None) -> list[inspect_pb2.RouteInfo]:
        request = inspect_pb2.ListRoutesRequest(api=api)
        return list((await self._transport.unary(self._stub.ListRoutes, request, timeout)).routes)

    async def health(self, *, timeout: float | None = None) -> inspect_pb2.GetHealthResponse:
        return await self._transport.unary(self._stub.GetHealth, inspect_pb2.GetHealthRequest(), timeout)

    async def version(self, *, timeout: float | None = None) -> inspect_pb2.GetVersionResponse:
        return await self._transport.unary(self._stub.GetVersion, inspect_pb2.GetVersionRequest(), timeout)
