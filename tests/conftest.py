"""Fixtures that start real mesh processes on free loopback ports, with their state in a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from llama_mesh.launcher import LocalMesh, isolated_env

pytest_plugins = ["tests.ci_skips"]


@pytest.fixture(scope="session")
def local_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMesh]:
    """The default distribution (llama.cpp + sentence-transformers) as real processes."""
    root = tmp_path_factory.mktemp("local-cpu")
    # The tests' MCP servers listen on 127.0.0.1: trusted by name; any other private host stays refused.
    env = {**isolated_env(root / "data"), "LLAMA_MESH_MCP_ALLOWED_HOSTS": "127.0.0.1"}
    mesh = LocalMesh("local-cpu", env=env, log_dir=root / "logs")
    mesh.start()
    yield mesh
    mesh.stop()


@pytest.fixture(scope="session")
def gateway(local_mesh: LocalMesh) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(local_mesh.gateway_address) as channel:
        yield channel
