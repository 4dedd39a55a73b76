"""Renewed mesh certificates are used without a restart (transport_security.MeshFiles): a server of the mesh serves the
files as they are at each new handshake, and a process's channels are opened again with its renewed certificate. Real
gRPC over the loopback with certificates of `make certs`, rotated to a new CA in place (`make certs ARGS=--force`)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from llama_mesh.mesh_certs import make_mesh_certs
from llama_mesh.runtime import transport_security
from llama_mesh.runtime.channels import LazyChannel
from llama_mesh.runtime.config import RunConfig
from llama_mesh.runtime.transport_security import RENEWAL_CHECK_INTERVAL_S, ProcessSecurity, server_credentials


def _config(certs: Path) -> RunConfig:
    return RunConfig.model_validate(
        {
            "distribution": "renewal",
            "data_dir": str(certs.parent / "data"),
            "cache_dir": str(certs.parent / "cache"),
            "gateway": {"registry": {"type": "sqlite", "path": "registry.db"}},
            "services": [{"name": "datasetio", "api": "datasetio", "address": "127.0.0.1:0"}],
            "tls": {
                "ca_file": str(certs / "ca.crt"),
                "cert_file": str(certs / "{service}.crt"),
                "key_file": str(certs / "{service}.key"),
            },
        }
    )


@pytest.fixture
def as_the_gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[RunConfig, Path]]:
    """Certificates for the gateway and datasetio, and this process configured as the gateway."""
    certs = tmp_path / "certs"
    make_mesh_certs(certs, ["gateway", "datasetio"])
    config = _config(certs)
    monkeypatch.setattr(transport_security, "_process", ProcessSecurity(config=config, process="gateway"))
    yield config, certs


async def _status(channel: grpc.aio.Channel) -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    return reply.status


async def test_renewed_certificates_are_served_and_presented_without_a_restart(
    as_the_gateway: tuple[RunConfig, Path], tmp_path: Path
) -> None:
    config, certs = as_the_gateway
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(HealthServicer(), server)
    port = server.add_secure_port("127.0.0.1:0", server_credentials(config, "datasetio"))
    await server.start()
    address = f"127.0.0.1:{port}"
    old = tmp_path / "old"
    shutil.copytree(certs, old)
    channel = LazyChannel(address)
    try:
        before = channel.get()
        assert await _status(before) == health_pb2.HealthCheckResponse.SERVING
        assert channel.get() is before  # unchanged files: the same channel

        make_mesh_certs(certs, ["gateway", "datasetio"], force=True)  # a new CA, and certificates it signed
        transport_security.process_security().check_renewal()  # now, not within the next second

        # the gateway's channel is opened again, presenting its new certificate, which the server (now trusting the
        # new CA alone) accepts
        after = channel.get()
        assert after is not before
        assert await _status(after) == health_pb2.HealthCheckResponse.SERVING
        # the server serves its new certificate: a client that trusts only the old CA, with the old certificate,
        # is refused at the handshake
        stale = grpc.ssl_channel_credentials(
            (old / "ca.crt").read_bytes(), (old / "gateway.key").read_bytes(), (old / "gateway.crt").read_bytes()
        )
        async with grpc.aio.secure_channel(address, stale) as refused:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await _status(refused)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await channel.close()
        await server.stop(None)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_channels_look_at_the_files_at_most_once_per_interval(
    as_the_gateway: tuple[RunConfig, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, certs = as_the_gateway
    clock = _Clock()
    security = ProcessSecurity(config=config, process="gateway", clock=clock)
    monkeypatch.setattr(transport_security, "_process", security)
    looks: list[object] = []  # each time the files are looked at (stat)
    signature = transport_security.MeshFiles._signature

    def counted(files: transport_security.MeshFiles) -> object:
        looks.append(files)
        return signature(files)

    monkeypatch.setattr(transport_security.MeshFiles, "_signature", counted)
    assert security.credentials_generation() == 0
    looked = len(looks)
    assert looked > 0  # the first call looks at the files

    make_mesh_certs(certs, ["gateway", "datasetio"], force=True)
    clock.now += RENEWAL_CHECK_INTERVAL_S / 2
    for _ in range(100):  # within the interval: no file is looked at, the renewal is not seen yet
        assert security.credentials_generation() == 0
    assert len(looks) == looked

    clock.now += RENEWAL_CHECK_INTERVAL_S / 2
    assert security.credentials_generation() == 1  # the interval is over: the renewal is seen
    assert security.credentials_generation() == 1 and len(looks) == looked + 1


def test_files_caught_mid_renewal_wait_until_they_are_all_there(as_the_gateway: tuple[RunConfig, Path]) -> None:
    config, certs = as_the_gateway
    assert config.tls is not None
    files = transport_security.MeshFiles(config.tls, "datasetio")
    assert not files.changed()
    (certs / "datasetio.key").unlink()
    assert not files.changed() and files.renewed_server_configuration() is None
    (certs / "datasetio.crt").unlink()
    make_mesh_certs(certs, ["datasetio"])  # a new key and certificate, from the same CA
    assert files.changed() and not files.changed()
