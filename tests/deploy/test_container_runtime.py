"""What containers and pods need of the runtime: listening on LLAMA_MESH_BIND_HOST when a service's address names a
host the process cannot bind (`telemetry:50064` in compose), the image's health check command, and outgoing channels
that spread calls over every address a target resolves to (headless Services)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from llama_mesh.launcher import REPO_ROOT, free_loopback_port
from llama_mesh.runtime.addresses import listen_address
from llama_mesh.runtime.channels import open_channel

# A name no resolver knows: the service can only serve it by listening on the bind host.
UNRESOLVABLE_HOST = "telemetry.mesh.invalid"
# The plaintext health-only port (what probes use under mesh mTLS).
HEALTH_PORT = str(free_loopback_port())


def healthcheck(
    distribution: Path, service: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "llama_mesh.runtime.healthcheck", "--distribution", str(distribution)]
    return subprocess.run(
        [*command, "--service", service],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def container_like_distribution(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bind")
    config = root / "run.yaml"
    config.write_text(
        f"distribution: bind-test\ndata_dir: {root / 'data'}\ncache_dir: {root / 'cache'}\n"
        f"gateway:\n  address: 127.0.0.1:{free_loopback_port()}\n  registry: {{type: sqlite, path: registry.db}}\n"
        f"services:\n  - name: telemetry\n    api: telemetry\n    address: {UNRESOLVABLE_HOST}:{free_loopback_port()}\n"
    )
    return config


@pytest.fixture(scope="module")
def bound_service(container_like_distribution: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "LLAMA_MESH_BIND_HOST": "127.0.0.1",
        "LLAMA_MESH_SECRET": "a-test-mesh-secret",
        "LLAMA_MESH_HEALTH_PORT": HEALTH_PORT,
    }
    command = [sys.executable, "-m", "services.telemetry", "--distribution", str(container_like_distribution)]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stderr=subprocess.PIPE)
    yield process
    process.terminate()
    process.wait(timeout=15)


def test_listen_address_keeps_the_port_and_swaps_the_host() -> None:
    assert listen_address("inference:50061", None) == "inference:50061"
    assert listen_address("inference:50061", "0.0.0.0") == "0.0.0.0:50061"
    assert listen_address("dns:///inference.mesh.svc:50061", "[::]") == "[::]:50061"
    assert listen_address("[::1]:50062", "0.0.0.0") == "0.0.0.0:50062"


def test_service_named_by_an_unbindable_host_serves_on_the_bind_host(
    container_like_distribution: Path, bound_service: subprocess.Popen[bytes]
) -> None:
    for _ in range(120):
        result = healthcheck(container_like_distribution, "telemetry")
        if result.returncode == 0 or bound_service.poll() is not None:
            break
        time.sleep(0.5)
    assert bound_service.poll() is None, bound_service.stderr.read().decode() if bound_service.stderr else ""
    assert result.returncode == 0, result.stderr


def test_healthcheck_takes_the_port_from_the_address_variable_without_reading_the_distribution(
    container_like_distribution: Path, bound_service: subprocess.Popen[bytes]
) -> None:
    """What compose sets in every container: the address variable alone finds the port (the distribution is not read,
    so a check costs little more than importing gRPC)."""
    service_address = next(
        line.split("address: ")[1]
        for line in container_like_distribution.read_text().splitlines()
        if UNRESOLVABLE_HOST in line
    )
    env = {"LLAMA_MESH_TELEMETRY_ADDRESS": service_address}
    assert healthcheck(container_like_distribution.parent / "missing.yaml", "telemetry", env).returncode == 0


def test_healthcheck_asks_the_health_only_port_when_one_is_set(
    container_like_distribution: Path, bound_service: subprocess.Popen[bytes]
) -> None:
    env = {"LLAMA_MESH_HEALTH_PORT": HEALTH_PORT}
    for _ in range(120):
        result = healthcheck(container_like_distribution, "telemetry", env)
        if result.returncode == 0 or bound_service.poll() is not None:
            break
        time.sleep(0.5)
    assert result.returncode == 0, result.stderr
    with grpc.insecure_channel(f"127.0.0.1:{HEALTH_PORT}") as channel:  # health alone: no API there
        with pytest.raises(grpc.RpcError) as caught:
            channel.unary_unary("/llama.telemetry.v1.TelemetryService/QueryTraces")(b"", timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_healthcheck_fails_for_a_service_that_does_not_answer(container_like_distribution: Path) -> None:
    result = healthcheck(container_like_distribution, "gateway")
    assert result.returncode == 1
    assert "unhealthy: gateway at 127.0.0.1:" in result.stderr
    assert "UNAVAILABLE" in result.stderr


def test_healthcheck_names_a_service_the_distribution_lacks(container_like_distribution: Path) -> None:
    result = healthcheck(container_like_distribution, "agents")
    assert result.returncode == 2
    assert "no service named 'agents'" in result.stderr


async def test_outgoing_channels_round_robin_over_every_resolved_address() -> None:
    """Two backends behind one target: each only knows its own health service name, so the replies tell which one
    answered. With gRPC's default pick_first every call would go to the first address."""
    servers = []
    ports = []
    for name in ("first", "second"):
        server = grpc.aio.server()
        health = HealthServicer()
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(health, server)
        ports.append(server.add_insecure_port("127.0.0.1:0"))
        await server.start()
        servers.append(server)
    channel = open_channel(f"ipv4:127.0.0.1:{ports[0]},127.0.0.1:{ports[1]}", traced=False)
    try:
        stub = health_pb2_grpc.HealthStub(channel)
        answered: list[str] = []
        for _ in range(40):
            try:
                await stub.Check(health_pb2.HealthCheckRequest(service="first"), timeout=5)
                answered.append("first")
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.NOT_FOUND
                answered.append("second")
            if len(set(answered)) == 2:
                break
        assert set(answered) == {"first", "second"}
    finally:
        await channel.close()
        for server in servers:
            await server.stop(None)
