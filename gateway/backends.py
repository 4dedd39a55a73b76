"""Channels from the gateway to the services, one per address, shared by every call."""

from __future__ import annotations

import grpc

from llama_mesh.runtime.channels import open_channel


class Backends:
    """One channel per service address, reused by every call. Its calls carry no trace context of their own: the
    proxy and the resource lifecycle add the current span's (trace_context.trace_headers) to what they send."""

    def __init__(self) -> None:
        self._channels: dict[str, grpc.aio.Channel] = {}

    def channel(self, address: str) -> grpc.aio.Channel:
        if address not in self._channels:
            self._channels[address] = open_channel(address, traced=False)
        return self._channels[address]

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
