"""ServiceServer.add_api finds a servicer's generated base class, its add function and its full service name."""

from __future__ import annotations

import asyncio

import pytest

from llama.agents.v1 import agents_pb2_grpc
from llama.provider.v1 import provider_pb2_grpc
from llama_mesh.runtime.server import ServiceServer, StartupError


class Agents(agents_pb2_grpc.AgentsServiceServicer):
    pass


class Lifecycle(provider_pb2_grpc.ResourceLifecycleServiceServicer):
    pass


def test_add_api_names_the_services_it_serves() -> None:
    server = ServiceServer("agents", "127.0.0.1:0")
    server.add_api(Agents())
    server.add_api(Lifecycle())
    assert server._service_names == ["llama.agents.v1.AgentsService", "llama.provider.v1.ResourceLifecycleService"]


def test_add_api_refuses_what_is_not_a_generated_servicer() -> None:
    with pytest.raises(TypeError, match="generated gRPC servicer"):
        ServiceServer("x", "127.0.0.1:0").add_api(object())


async def _started(server: ServiceServer) -> tuple[asyncio.Task, asyncio.Event]:
    """The server's run task and an event set once it serves (its start-up hook ran)."""
    serving = asyncio.Event()

    async def startup() -> None:
        serving.set()

    server.add_api(Agents())
    return asyncio.create_task(server.run(startup)), serving


async def _second_server_on_a_taken_port(reuse_port: bool) -> int | None:
    """Starts one server, then a second on its port; the second's bound port (None when start-up refused it)."""
    first = ServiceServer("first", "127.0.0.1:0", reuse_port=reuse_port)
    running, serving = await _started(first)
    try:
        await asyncio.wait_for(serving.wait(), 30)
        second = ServiceServer("second", f"127.0.0.1:{first.bound_port}", reuse_port=reuse_port)
        second_run, second_serving = await _started(second)
        waiting = asyncio.create_task(second_serving.wait())
        try:
            await asyncio.wait({second_run, waiting}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
            if second_run.done() and isinstance(second_run.exception(), StartupError):
                return None
            return second.bound_port
        finally:
            for task in (second_run, waiting):
                task.cancel()
            await asyncio.gather(second_run, waiting, return_exceptions=True)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


def test_a_taken_port_stops_start_up() -> None:
    """A second mesh on the same ports fails to start instead of sharing them (SO_REUSEPORT is off by default)."""
    assert asyncio.run(_second_server_on_a_taken_port(reuse_port=False)) is None


def test_deliberate_port_sharing_is_an_option() -> None:
    assert asyncio.run(_second_server_on_a_taken_port(reuse_port=True))
