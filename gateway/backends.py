"""Channels from the gateway to the services, one per address, shared by every call (opened again with renewed mesh
certificates, see channels.LazyChannel)."""

from __future__ import annotations

import grpc

from llama_mesh.runtime.channels import LazyChannel


class Backends:
    """One channel per service address, reused by every call. Its calls carry no trace context of their own: the
    proxy and the resource lifecycle add the current span's (trace_context.trace_headers) to what they send."""

    def __init__(self) -> None:
        self._channels: dict[str, LazyChannel] = {}

    def channel(self, address: str) -> grpc.aio.Channel:
        if address not in self._channels:
            self._channels[address] = LazyChannel(address, traced=False)
        return self._channels[address].get()

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
