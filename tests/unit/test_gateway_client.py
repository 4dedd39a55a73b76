"""The one gateway client: deadlines passed on, failures turned into RemoteError with the callee's status."""

from __future__ import annotations

import grpc
import pytest

from llama.registry.v1 import registry_pb2
from llama_mesh.runtime import gateway_client
from llama_mesh.runtime.errors import RemoteError
from llama_mesh.runtime.gateway_client import DEFAULT_TIMEOUT_SECONDS, GatewayClient, time_left


class _Context:
    def __init__(self, remaining: float | None) -> None:
        self._remaining = remaining

    def time_remaining(self) -> float | None:
        return self._remaining


def test_time_left_passes_on_the_served_deadline() -> None:
    assert time_left(_Context(2.5)) == 2.5
    assert time_left(_Context(-1.0)) == 0.0
    assert time_left(_Context(None)) == DEFAULT_TIMEOUT_SECONDS
    assert time_left(None) == DEFAULT_TIMEOUT_SECONDS


async def test_a_call_to_nothing_is_a_remote_error_with_unavailable() -> None:
    client = GatewayClient("127.0.0.1:1")  # nothing listens on port 1
    with pytest.raises(RemoteError) as failed:
        await client.call(client.registry.ListModels, registry_pb2.ListModelsRequest(), 2.0)
    assert failed.value.code == grpc.StatusCode.UNAVAILABLE
    assert "127.0.0.1" not in failed.value.message and "not reachable" in failed.value.message  # the log has where
    await client.close()


async def test_stubs_share_one_channel_and_are_renewed_after_close() -> None:
    client = GatewayClient("127.0.0.1:1")
    first = client.registry
    assert client.registry is first
    await client.close()
    assert client.registry is not first
    await client.close()
    assert gateway_client.DEFAULT_TIMEOUT_SECONDS > 0
