"""Fixtures that start real mesh processes on free loopback ports, with their state in a temporary directory."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from llama_mesh.launcher import LocalMesh


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mesh_env(data_dir: Path) -> dict[str, str]:
    """Environment that points a distribution at free ports and a fresh data directory."""
    return {
        "LLAMA_MESH_DATA_DIR": str(data_dir),
        "LLAMA_MESH_GATEWAY_ADDRESS": f"127.0.0.1:{free_port()}",
        "LLAMA_MESH_INFERENCE_ADDRESS": f"127.0.0.1:{free_port()}",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


@pytest.fixture(scope="session")
def local_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMesh]:
    """The default distribution (llama.cpp + sentence-transformers) as real processes."""
    root = tmp_path_factory.mktemp("local-cpu")
    mesh = LocalMesh("local-cpu", env=mesh_env(root / "data"), log_dir=root / "logs")
    mesh.start()
    yield mesh
    mesh.stop()


@pytest.fixture(scope="session")
def gateway(local_mesh: LocalMesh) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(local_mesh.gateway_address) as channel:
        yield channel
