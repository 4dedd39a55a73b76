"""The channel to the gateway and the calls made on it, sync and async: default timeout, metadata, error mapping.

Every RPC of the client goes through `unary` or `stream` here, so failures always surface as `LlamaMeshError`.
"""

# ruff: noqa: ASYNC109 - `timeout` is the gRPC deadline handed to the call, named as grpc.aio names it.

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

import grpc

from llama_mesh.client.errors import GatewayUnreachableError, from_rpc_error
from llama_mesh.runtime.channels import CHANNEL_OPTIONS

DEFAULT_ADDRESS = "127.0.0.1:50051"

Metadata = Sequence[tuple[str, str | bytes]]
R = TypeVar("R")


TOKEN_ENV = "LLAMA_MESH_TOKEN"


class _TransportBase:
    def __init__(self, address: str, timeout: float | None, metadata: Metadata | None, token: str | None) -> None:
        self.address = address
        self.timeout = timeout
        self.metadata: tuple[tuple[str, str | bytes], ...] = tuple(metadata or ())
        token = os.environ.get(TOKEN_ENV) if token is None else token
        if token:
            self.metadata += (("authorization", f"Bearer {token}"),)

    def _options(self, timeout: float | None) -> dict[str, Any]:
        """Per-call options: the call's timeout, else the client's default; the client's metadata."""
        return {"timeout": self.timeout if timeout is None else timeout, "metadata": self.metadata or None}

    def _unreachable(self, waited: float) -> GatewayUnreachableError:
        return GatewayUnreachableError(
            grpc.StatusCode.UNAVAILABLE, f"failed to connect to {self.address} within {waited:g}s", address=self.address
        )


class Transport(_TransportBase):
    """A blocking channel (grpc.Channel) to the gateway."""

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        timeout: float | None = None,
        *,
        channel: grpc.Channel | None = None,
        metadata: Metadata | None = None,
        token: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        super().__init__(address, timeout, metadata, token)
        self._owns_channel = channel is None
        if channel is None:
            channel = (
                grpc.secure_channel(address, credentials, options=CHANNEL_OPTIONS)
                if credentials
                else grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
            )
        self.channel = channel

    def unary(self, method: Callable[..., R], request: Any, timeout: float | None = None) -> R:
        try:
            return method(request, **self._options(timeout))
        except grpc.RpcError as error:
            raise from_rpc_error(error, self.address) from error

    def stream(self, method: Callable[..., Any], request: Any, timeout: float | None = None) -> Iterator[Any]:
        """Iterate a server stream; stopping early (break, close) cancels the call."""
        call = method(request, **self._options(timeout))
        try:
            yield from call
        except grpc.RpcError as error:
            raise from_rpc_error(error, self.address) from error
        finally:
            call.cancel()

    def pages(
        self, method: Callable[..., Any], request: Any, field: str, timeout: float | None = None
    ) -> Iterator[Any]:
        """The items (`field` of each reply) of a paged List call, fetching the next page only when the previous one
        is used up; the request's page_token is advanced in place."""
        while True:
            reply = self.unary(method, request, timeout)
            yield from getattr(reply, field)
            if not reply.next_page_token:
                return
            request.page_token = reply.next_page_token

    def wait_for_ready(self, timeout: float = 10.0) -> None:
        """Block until the channel is connected; GatewayUnreachableError after `timeout` seconds."""
        try:
            grpc.channel_ready_future(self.channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise self._unreachable(timeout) from None

    def close(self) -> None:
        if self._owns_channel:
            self.channel.close()


class AsyncTransport(_TransportBase):
    """A grpc.aio channel to the gateway."""

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        timeout: float | None = None,
        *,
        channel: grpc.aio.Channel | None = None,
        metadata: Metadata | None = None,
        token: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        super().__init__(address, timeout, metadata, token)
        self._owns_channel = channel is None
        if channel is None:
            channel = (
                grpc.aio.secure_channel(address, credentials, options=CHANNEL_OPTIONS)
                if credentials
                else grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
            )
        self.channel = channel

    async def unary(self, method: Callable[..., Awaitable[R]], request: Any, timeout: float | None = None) -> R:
        try:
            return await method(request, **self._options(timeout))
        except grpc.RpcError as error:
            raise from_rpc_error(error, self.address) from error

    async def stream(
        self, method: Callable[..., Any], request: Any, timeout: float | None = None
    ) -> AsyncIterator[Any]:
        """Iterate a server stream; stopping early (break, aclose) cancels the call."""
        call = method(request, **self._options(timeout))
        try:
            async for event in call:
                yield event
        except grpc.RpcError as error:
            raise from_rpc_error(error, self.address) from error
        finally:
            call.cancel()

    async def pages(
        self, method: Callable[..., Any], request: Any, field: str, timeout: float | None = None
    ) -> AsyncIterator[Any]:
        """The async flavour of `Transport.pages`."""
        while True:
            reply = await self.unary(method, request, timeout)
            for item in getattr(reply, field):
                yield item
            if not reply.next_page_token:
                return
            request.page_token = reply.next_page_token

    async def wait_for_ready(self, timeout: float = 10.0) -> None:
        """Wait until the channel is connected; GatewayUnreachableError after `timeout` seconds."""
        try:
            await asyncio.wait_for(self.channel.channel_ready(), timeout)
        except TimeoutError:
            raise self._unreachable(timeout) from None

    async def close(self) -> None:
        if self._owns_channel:
            await self.channel.close()
