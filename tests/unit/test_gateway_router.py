"""The gateway's router against hostile requests: oversized routed requests, a routing-key read that would hold the
event loop, ids that are too long or end in a newline (errors never echo more than a prefix of them), and a
forwarded call whose caller set no deadline."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from gateway.api_catalog import forwarded_routes
from gateway.backends import Backends
from gateway.proxy import GatewayProxy
from gateway.router import Router
from llama.agents.v1 import agents_pb2, agents_pb2_grpc
from llama.inference.v1 import inference_pb2
from llama.vector_io.v1 import vector_io_pb2
from llama_mesh.runtime.config import RunConfig, load_run_config
from llama_mesh.runtime.errors import InvalidArgument

ROOT = Path(__file__).resolve().parents[2]
CHAT = "/llama.inference.v1.InferenceService/ChatCompletion"
INSERT = "/llama.vector_io.v1.VectorIOService/InsertChunks"


class _Store:
    """A registry store that knows no resource and records how often the event loop ran before each lookup."""

    def __init__(self, ticks: list[int]) -> None:
        self.ticks = ticks
        self.seen: list[int] = []

    async def lookup(self, kind: int, identifier: str) -> None:
        self.seen.append(self.ticks[0])


def _config(tmp_path: Path) -> RunConfig:
    return load_run_config(ROOT / "distributions" / "local-cpu" / "run.yaml", {"LLAMA_MESH_DATA_DIR": str(tmp_path)})


async def _resolve(router: Router, method: str, request: bytes) -> None:
    await router.resolve(forwarded_routes()[method], request)


def test_a_routed_request_over_the_cap_is_refused_before_it_is_read(tmp_path: Path) -> None:
    config = _config(tmp_path)
    config.gateway.max_routed_request_bytes = 1024
    store = _Store([0])
    request = inference_pb2.ChatCompletionRequest(model_id="m", messages=[]).SerializeToString() + b"\x12\x00" * 1024
    with pytest.raises(InvalidArgument) as caught:
        asyncio.run(_resolve(Router(config, store), CHAT, request))
    assert caught.value.reason == "REQUEST_TOO_LARGE"
    assert store.seen == []


def test_reading_a_large_request_lets_the_loop_serve_others(tmp_path: Path) -> None:
    """Two MiB of empty fields before the routing key: the read runs in a worker thread, so a concurrent task on the
    loop gets to run before the lookup (a read on the loop would let nothing else run until it ends)."""
    ticks = [0]
    store = _Store(ticks)
    router = Router(_config(tmp_path), store)
    request = b"\x1a\x00" * (1024 * 1024) + vector_io_pb2.InsertChunksRequest(vector_db_id="docs").SerializeToString()

    async def main() -> None:
        resolving = asyncio.create_task(_resolve(router, INSERT, request))
        while not resolving.done():
            ticks[0] += 1
            await asyncio.sleep(0)
        with pytest.raises(Exception, match="is not registered"):
            resolving.result()

    asyncio.run(main())
    assert store.seen and store.seen[0] > 0


@pytest.mark.parametrize("identifier", ["docs\n", "x" * 257, "y" * 200_000, "a b", "-leading-dash"])
def test_invalid_and_oversized_ids_are_refused_with_a_short_error(tmp_path: Path, identifier: str) -> None:
    store = _Store([0])
    request = vector_io_pb2.InsertChunksRequest(vector_db_id=identifier).SerializeToString()
    with pytest.raises(InvalidArgument) as caught:
        asyncio.run(_resolve(Router(_config(tmp_path), store), INSERT, request))
    assert len(caught.value.message) < 300
    assert store.seen == []


class _Agents(agents_pb2_grpc.AgentsServiceServicer):
    def __init__(self) -> None:
        self.time_left: list[float | None] = []

    async def ListAgents(self, request, context):  # noqa: N802 - the generated name
        self.time_left.append(context.time_remaining())
        return agents_pb2.ListAgentsResponse()


async def _forward_without_deadline(config: RunConfig, default_timeout: float) -> list[float | None]:
    """A caller with no deadline calls the agents service through a gateway proxy; what the service saw as its time
    left."""
    agents = _Agents()
    backend = grpc.aio.server()
    agents_pb2_grpc.add_AgentsServiceServicer_to_server(agents, backend)
    backend_port = backend.add_insecure_port("127.0.0.1:0")
    config.services_for("agents")[0].address = f"127.0.0.1:{backend_port}"
    backends = Backends()
    proxy = GatewayProxy(Router(config, _Store([0])), backends, default_timeout)
    gateway = grpc.aio.server()
    gateway.add_generic_rpc_handlers(proxy.handlers())
    gateway_port = gateway.add_insecure_port("127.0.0.1:0")
    await backend.start()
    await gateway.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway_port}") as channel:
            await agents_pb2_grpc.AgentsServiceStub(channel).ListAgents(agents_pb2.ListAgentsRequest())
    finally:
        await backends.close()
        await gateway.stop(None)
        await backend.stop(None)
    return agents.time_left


def test_a_forwarded_call_without_a_deadline_gets_the_default_one(tmp_path: Path) -> None:
    (time_left,) = asyncio.run(_forward_without_deadline(_config(tmp_path), 120.0))
    # gRPC sends a timeout in whole units and may round it up by up to one second on the wire.
    assert time_left is not None and 60.0 < time_left <= 121.0
