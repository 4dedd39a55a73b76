"""The vector_io API, called through the gateway (which resolves the vector DB), never through vector_io's code."""

from __future__ import annotations

import grpc

from llama.vector_io.v1 import vector_io_pb2 as vio
from llama.vector_io.v1 import vector_io_pb2_grpc
from llama_mesh.runtime.channels import open_channel
from llama_mesh.runtime.errors import RemoteError


class GatewayVectorIO:
    def __init__(self, gateway_address: str) -> None:
        self._address = gateway_address
        self._channel: grpc.aio.Channel | None = None

    def _stub(self) -> vector_io_pb2_grpc.VectorIOServiceStub:
        if self._channel is None:  # opened on first use, inside the running event loop
            self._channel = open_channel(self._address)
        return vector_io_pb2_grpc.VectorIOServiceStub(self._channel)

    async def insert(self, request: vio.InsertChunksRequest, time_left: float | None) -> vio.InsertChunksResponse:
        try:
            return await self._stub().InsertChunks(request, timeout=time_left)
        except grpc.aio.AioRpcError as error:
            raise RemoteError(error) from error

    async def query(self, request: vio.QueryChunksRequest, time_left: float | None) -> vio.QueryChunksResponse:
        try:
            return await self._stub().QueryChunks(request, timeout=time_left)
        except grpc.aio.AioRpcError as error:
            raise RemoteError(error) from error

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
