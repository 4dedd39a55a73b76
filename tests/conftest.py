"""Fixtures that start real mesh processes on free loopback ports, with their state in a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from llama_mesh.launcher import LocalMesh, isolated_env

pytest_plugins = ["tests.ci_skips"]
# Tests that start real processes (the mesh, Postgres, containers) or load a model carry the `mesh` marker (so do
# all *_mesh.py files); the fast
# tier (`make test-fast`: -m "not mesh") is everything else, in-process with small fakes (tests/fast/harness.py).
REAL_PROCESS_TESTS = (
    "mesh/",
    "compose/",
    "deploy/",
    "inference/",
    "gateway/test_auth_mesh.py",
    "gateway/test_tls_mesh.py",
    "gateway/test_postgres_registry.py",
    "gateway/test_openai_edge_auth_mesh.py",
    "post_training/test_gguf_export.py",
    "post_training/test_gpu_training_check.py",
)
TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        relative = item.path.resolve().relative_to(TESTS).as_posix()
        if relative.startswith(REAL_PROCESS_TESTS) or item.path.name.endswith("_mesh.py"):
            item.add_marker(pytest.mark.mesh)


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
