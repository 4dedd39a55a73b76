"""The typed Python client and the llama-mesh CLI against the real default mesh."""

from __future__ import annotations

import json

import pytest

from llama_mesh.client import AsyncLlamaMeshClient, LlamaMeshClient
from llama_mesh.client.errors import InvalidArgumentError, NotFoundError
from llama_mesh.launcher import LocalMesh
from tests.mesh.helpers import CHAT_MODEL, EMBEDDING_MODEL, run_cli


def test_client_streams_a_chat_and_embeds(local_mesh: LocalMesh) -> None:
    with LlamaMeshClient(local_mesh.gateway_address, timeout=120) as client:
        events = list(client.inference.stream_chat_completion(CHAT_MODEL, "Say hello.", max_tokens=16))
        text = "".join(e.chunk.text_delta for e in events if e.WhichOneof("event") == "chunk")
        assert text and events[-1].complete.completion_message.content.text == text
        (vector,) = client.inference.embeddings(EMBEDDING_MODEL, ["hello"])
        assert len(vector) == 384
        with pytest.raises(InvalidArgumentError) as caught:
            client.inference.chat_completion(CHAT_MODEL, "Hi", response_format={"json_schema": {"type": "nonsense"}})
        assert caught.value.metadata["field"] == "response_format.json_schema"
        with pytest.raises(NotFoundError):
            client.inference.chat_completion("no-such-model", "Hi")


async def test_async_client_registers_and_unregisters(local_mesh: LocalMesh) -> None:
    async with AsyncLlamaMeshClient(local_mesh.gateway_address, timeout=60) as client:
        await client.models.register(
            "async-alias", provider_id="llama-cpp", provider_resource_id="SmolLM2-135M-Instruct"
        )
        assert "async-alias" in [model.identifier for model in await client.models.list()]
        reply = await client.inference.chat_completion("async-alias", "Hi", max_tokens=4)
        assert reply.usage.completion_tokens > 0
        await client.models.unregister("async-alias")
        with pytest.raises(NotFoundError) as caught:
            await client.models.get("async-alias")
        assert caught.value.reason == "RESOURCE_NOT_FOUND"


def test_cli_models_and_chat(local_mesh: LocalMesh) -> None:
    listed = run_cli(local_mesh, "--json", "models", "list")
    assert listed.returncode == 0, listed.stderr
    assert {CHAT_MODEL, EMBEDDING_MODEL} <= {model["identifier"] for model in json.loads(listed.stdout)}

    registered = run_cli(
        local_mesh,
        "models",
        "register",
        "cli-alias",
        "--provider-id",
        "llama-cpp",
        "--provider-resource-id",
        "SmolLM2-135M-Instruct",
    )
    assert registered.returncode == 0, registered.stderr
    chat = run_cli(local_mesh, "chat", "-m", "cli-alias", "--max-tokens", "12", "Say something.")
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.strip()
    assert "tokens" in chat.stderr
    assert run_cli(local_mesh, "models", "unregister", "cli-alias").returncode == 0

    missing = run_cli(local_mesh, "chat", "-m", "cli-alias", "Hi")
    assert missing.returncode == 1
    assert "NOT_FOUND" in missing.stderr and "Traceback" not in missing.stderr


def test_cli_inspect_health(local_mesh: LocalMesh) -> None:
    health = run_cli(local_mesh, "inspect", "health")
    assert health.returncode == 0, health.stderr
    assert "inference" in health.stdout
