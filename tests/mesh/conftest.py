"""Stubs on the session mesh's gateway that several mesh test modules use (a module may define its own instead)."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import openai
import pytest

from llama.registry.v1 import registry_pb2_grpc
from llama.tool_runtime.v1 import tool_runtime_pb2_grpc
from llama_mesh.launcher import LocalMesh


@pytest.fixture(scope="module")
def registry(gateway: grpc.Channel) -> registry_pb2_grpc.RegistryServiceStub:
    return registry_pb2_grpc.RegistryServiceStub(gateway)


@pytest.fixture(scope="module")
def tools(gateway: grpc.Channel) -> tool_runtime_pb2_grpc.ToolRuntimeServiceStub:
    return tool_runtime_pb2_grpc.ToolRuntimeServiceStub(gateway)


@pytest.fixture(scope="module")
def edge_url(local_mesh: LocalMesh) -> str:
    """The session mesh's OpenAI edge."""
    assert local_mesh.config.openai_edge is not None
    return f"http://{local_mesh.config.openai_edge.address}/v1"


@pytest.fixture(scope="module")
def client(edge_url: str) -> Iterator[openai.OpenAI]:
    """The official openai SDK on the session mesh's edge."""
    with openai.OpenAI(base_url=edge_url, api_key="no-key-needed", max_retries=0, timeout=600) as sdk:
        yield sdk
