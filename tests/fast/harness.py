"""The fast tier's pieces: a servicer served in-process (a grpc.aio server on a loopback port, with the mesh's message
limits and error mapping, keeping the caller a call names in `llama-mesh-caller` as a mesh service does), calls made
as the gateway makes them (the resolved resource in `llama-mesh-resource-bin`), and a fake gateway built from small
servicers. No model, no subprocess: each test takes milliseconds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import grpc
from google.protobuf.message import Message

from llama_mesh.resources import resource_metadata
from llama_mesh.runtime.caller import CallerCapture
from llama_mesh.runtime.channels import CHANNEL_OPTIONS
from llama_mesh.runtime.interceptors import ErrorMappingInterceptor


@asynccontextmanager
async def serving(
    *servicers: tuple[Callable[[Any, grpc.aio.Server], None], Any], options: Sequence[tuple[str, Any]] = CHANNEL_OPTIONS
) -> AsyncIterator[str]:
    """Serve (add_XServicer_to_server, servicer) pairs on a free loopback port, with the mesh's server `options`;
    yields its address."""
    server = grpc.aio.server(interceptors=[ErrorMappingInterceptor(), CallerCapture()], options=options)
    for add, servicer in servicers:
        add(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(grace=None)


def as_resolved(resource: Message) -> tuple[tuple[str, bytes], ...]:
    """The metadata the gateway adds to a call it routed: the resource it resolved."""
    return (resource_metadata(resource),)


@asynccontextmanager
async def connected(
    *servicers: tuple[Callable[[Any, grpc.aio.Server], None], Any], options: Sequence[tuple[str, Any]] = CHANNEL_OPTIONS
) -> AsyncIterator[grpc.aio.Channel]:
    """`serving`, with a channel to it that has the mesh's message limits."""
    async with (
        serving(*servicers, options=options) as address,
        grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) as channel,
    ):
        yield channel
