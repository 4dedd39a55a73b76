"""Bearer-token auth at the gateway, with real processes: tokens from config, an environment variable and a file;
UNAUTHENTICATED without a valid token, PERMISSION_DENIED outside a token's resources, lists showing only what a token
may use, services calling through the gateway with the service token, and no token in any log line or span."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from llama.common.v1 import content_pb2, resources_pb2
from llama.inference.v1 import inference_pb2, inference_pb2_grpc
from llama.registry.v1 import registry_pb2 as reg
from llama.registry.v1 import registry_pb2_grpc
from llama.safety.v1 import safety_pb2, safety_pb2_grpc
from llama.tool_runtime.v1 import tool_runtime_pb2 as tools_pb
from llama.tool_runtime.v1 import tool_runtime_pb2_grpc
from llama_mesh.client import LlamaMeshClient
from llama_mesh.launcher import LocalMesh, isolated_env
from tests.gateway.distribution_variant import distribution_variant
from tests.mesh.helpers import CHAT_MODEL, EMBEDDING_MODEL, expect_error, greedy, reason_and_field, user

ALICE = "alice-7bX2-token"
BOB = "bob-5pW7-token"
ADMIN = "admin-Q9z4-token"
SERVICE = "service-K3m8-token"
TOKENS = (ALICE, BOB, ADMIN, SERVICE)


def _with_auth(service_token_file: Path) -> Any:
    def change(raw: dict[str, Any]) -> None:
        raw["telemetry"] = {"exporter": "console"}  # spans go to each process's log, where the test reads them
        raw["gateway"]["auth"] = {
            "service_token": "mesh-services",
            "tokens": [
                {"name": "mesh-services", "token_file": str(service_token_file), "resources": "all"},
                {"name": "admin", "token_env": "LLAMA_MESH_TEST_ADMIN_TOKEN", "resources": "all"},
                {
                    "name": "alice",
                    "token": ALICE,
                    "resources": {
                        "models": ["smollm2-*", EMBEDDING_MODEL],
                        "vector_dbs": ["alice-*"],
                        "tool_groups": ["builtin::rag"],
                    },
                },
                {
                    "name": "bob",
                    "token": BOB,
                    "resources": {"models": [EMBEDDING_MODEL], "vector_dbs": ["bob-*"], "datasets": ["bob-*"]},
                },
            ],
        }

    return change


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMesh]:
    root = tmp_path_factory.mktemp("auth-mesh")
    secret = root / "secrets" / "service-token"
    secret.parent.mkdir()
    secret.write_text(SERVICE + "\n")
    config = distribution_variant(root, _with_auth(secret))
    env = {**isolated_env(root / "data"), "LLAMA_MESH_TEST_ADMIN_TOKEN": ADMIN}
    mesh = LocalMesh(str(config), env=env, log_dir=root / "logs")
    mesh.start(only={"gateway", "inference", "vector_io", "tool_runtime"})
    yield mesh
    mesh.stop()


@pytest.fixture(scope="module")
def channel(mesh: LocalMesh) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(mesh.gateway_address) as channel:
        yield channel


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


def test_calls_without_a_valid_token_are_unauthenticated(channel: grpc.Channel) -> None:
    registry = registry_pb2_grpc.RegistryServiceStub(channel)
    error = expect_error(lambda: registry.ListModels(reg.ListModelsRequest()), grpc.StatusCode.UNAUTHENTICATED)
    assert reason_and_field(error)[0] == "TOKEN_MISSING" and "authorization: Bearer" in error.details()
    error = expect_error(
        lambda: registry.ListModels(reg.ListModelsRequest(), metadata=bearer("not-a-token")),
        grpc.StatusCode.UNAUTHENTICATED,
    )
    assert reason_and_field(error)[0] == "TOKEN_INVALID"
    basic = (("authorization", "Basic YWxpY2U6eA=="),)
    expect_error(lambda: registry.ListModels(reg.ListModelsRequest(), metadata=basic), grpc.StatusCode.UNAUTHENTICATED)
    chat = inference_pb2_grpc.InferenceServiceStub(channel)
    request = inference_pb2.ChatCompletionRequest(model_id=CHAT_MODEL, messages=[user("hi")])
    expect_error(lambda: chat.ChatCompletion(request), grpc.StatusCode.UNAUTHENTICATED)
    expect_error(lambda: list(chat.StreamChatCompletion(request)), grpc.StatusCode.UNAUTHENTICATED)


def test_health_and_reflection_stay_open(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    reply = health.Check(health_pb2.HealthCheckRequest(service="gateway"))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    replies = list(reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
    names = [service.name for service in replies[0].list_services_response.service]
    assert "llama.registry.v1.RegistryService" in names


def test_a_token_uses_only_its_resources(channel: grpc.Channel) -> None:
    registry = registry_pb2_grpc.RegistryServiceStub(channel)
    chat = inference_pb2_grpc.InferenceServiceStub(channel)
    reply = chat.ChatCompletion(
        inference_pb2.ChatCompletionRequest(model_id=CHAT_MODEL, messages=[user("hi")], sampling_params=greedy(4)),
        metadata=bearer(ALICE),
    )
    assert reply.completion_message.content.text

    denied = [
        lambda: registry.GetShield(reg.GetShieldRequest(shield_id="code-scanner"), metadata=bearer(ALICE)),
        lambda: registry.GetModel(reg.GetModelRequest(model_id="bob-private"), metadata=bearer(ALICE)),
        lambda: registry.UnregisterShield(
            reg.UnregisterShieldRequest(shield_id="code-scanner"), metadata=bearer(ALICE)
        ),
        lambda: registry.RegisterModel(
            reg.RegisterModelRequest(
                model=resources_pb2.Model(identifier="bob-chat", provider_resource_id="SmolLM2-135M-Instruct")
            ),
            metadata=bearer(ALICE),
        ),
        lambda: safety_pb2_grpc.SafetyServiceStub(channel).RunShield(
            safety_pb2.RunShieldRequest(shield_id="code-scanner", messages=[user("x")]), metadata=bearer(ALICE)
        ),
    ]
    for call in denied:
        error = expect_error(call, grpc.StatusCode.PERMISSION_DENIED)
        assert reason_and_field(error)[0] == "RESOURCE_NOT_ALLOWED" and "alice" in error.details()

    models = registry.ListModels(reg.ListModelsRequest(), metadata=bearer(ALICE)).models
    assert sorted(model.identifier for model in models) == sorted([CHAT_MODEL, EMBEDDING_MODEL])
    assert list(registry.ListShields(reg.ListShieldsRequest(), metadata=bearer(ALICE)).shields) == []
    shields = registry.ListShields(reg.ListShieldsRequest(), metadata=bearer(ADMIN)).shields
    assert [shield.identifier for shield in shields] == ["code-scanner", "prompt-injection"]
    assert registry.GetShield(reg.GetShieldRequest(shield_id="code-scanner"), metadata=bearer(ADMIN)).identifier


def _register_vector_db(registry: registry_pb2_grpc.RegistryServiceStub, identifier: str, token: str) -> None:
    vector_db = resources_pb2.VectorDB(identifier=identifier, embedding_model=EMBEDDING_MODEL)
    registry.RegisterVectorDB(reg.RegisterVectorDBRequest(vector_db=vector_db), metadata=bearer(token))


def test_a_token_may_not_claim_a_name_outside_its_own_as_provider_resource_id(channel: grpc.Channel) -> None:
    """bob may use only bob-*: his vector DB stored under alice-notes once claimed that collection before alice
    registered it, and her own registration of alice-notes was then refused as an alias of bob's data."""
    registry = registry_pb2_grpc.RegistryServiceStub(channel)
    squats = [
        lambda: registry.RegisterVectorDB(
            reg.RegisterVectorDBRequest(
                vector_db=resources_pb2.VectorDB(
                    identifier="bob-squat", embedding_model=EMBEDDING_MODEL, provider_resource_id="alice-notes"
                )
            ),
            metadata=bearer(BOB),
        ),
        lambda: registry.RegisterDataset(
            reg.RegisterDatasetRequest(
                dataset=resources_pb2.Dataset(
                    identifier="bob-rows",
                    provider_resource_id="alice-rows",
                    source=resources_pb2.DataSource(rows=resources_pb2.RowsSource()),
                )
            ),
            metadata=bearer(BOB),
        ),
    ]
    for squat, kind in zip(squats, ("vector_db", "dataset"), strict=True):
        error = expect_error(squat, grpc.StatusCode.PERMISSION_DENIED)
        assert reason_and_field(error) == ("RESOURCE_NOT_ALLOWED", f"{kind}.provider_resource_id")
        assert "'bob'" in error.details()
    expect_error(
        lambda: registry.GetVectorDB(reg.GetVectorDBRequest(vector_db_id="bob-squat"), metadata=bearer(BOB)),
        grpc.StatusCode.NOT_FOUND,
    )
    _register_vector_db(registry, "alice-notes", ALICE)  # still hers to take
    mine = resources_pb2.VectorDB(identifier="bob-notes", embedding_model=EMBEDDING_MODEL, provider_resource_id="bob-x")
    registry.RegisterVectorDB(reg.RegisterVectorDBRequest(vector_db=mine), metadata=bearer(BOB))  # a name of his own
    registry.UnregisterVectorDB(reg.UnregisterVectorDBRequest(vector_db_id="bob-notes"), metadata=bearer(BOB))
    registry.UnregisterVectorDB(reg.UnregisterVectorDBRequest(vector_db_id="alice-notes"), metadata=bearer(ALICE))


def test_services_call_through_the_gateway_with_the_service_token(channel: grpc.Channel) -> None:
    """tool_runtime -> gateway -> vector_io -> gateway -> inference: every hop through the gateway is authenticated."""
    registry = registry_pb2_grpc.RegistryServiceStub(channel)
    tools = tool_runtime_pb2_grpc.ToolRuntimeServiceStub(channel)
    _register_vector_db(registry, "alice-docs", ALICE)
    inserted = tools.InsertDocuments(
        tools_pb.InsertDocumentsRequest(
            vector_db_id="alice-docs",
            documents=[
                tools_pb.RAGDocument(
                    document_id="tower", content=content_pb2.Content(text="The Eiffel Tower was completed in 1889.")
                )
            ],
        ),
        metadata=bearer(ALICE),
    )
    assert inserted.chunks_inserted == 1
    found = tools.QueryKnowledge(
        tools_pb.QueryKnowledgeRequest(
            vector_db_ids=["alice-docs"], content=content_pb2.Content(text="When was the Eiffel Tower completed?")
        ),
        metadata=bearer(ALICE),
    )
    assert found.document_ids == ["tower"] and "1889" in found.content.text
    registry.UnregisterVectorDB(reg.UnregisterVectorDBRequest(vector_db_id="alice-docs"), metadata=bearer(ALICE))


def test_services_act_for_the_caller_not_for_themselves(channel: grpc.Channel) -> None:
    """tool_runtime queries vector_io through the gateway with the service token, but limited to what the caller that
    called tool_runtime may use; a caller cannot claim to act for another."""
    registry = registry_pb2_grpc.RegistryServiceStub(channel)
    tools = tool_runtime_pb2_grpc.ToolRuntimeServiceStub(channel)
    _register_vector_db(registry, "admin-docs", ADMIN)
    try:
        query = tools_pb.QueryKnowledgeRequest(vector_db_ids=["admin-docs"], content=content_pb2.Content(text="x"))
        error = expect_error(
            lambda: tools.QueryKnowledge(query, metadata=bearer(ALICE)), grpc.StatusCode.PERMISSION_DENIED
        )
        assert reason_and_field(error)[0] == "RESOURCE_NOT_ALLOWED" and "'alice'" in error.details()
        assert tools.QueryKnowledge(query, metadata=bearer(ADMIN)).document_ids == []  # admin may: an empty DB
        claimed = (*bearer(ALICE), ("llama-mesh-caller", "admin"))
        expect_error(
            lambda: registry.GetVectorDB(reg.GetVectorDBRequest(vector_db_id="admin-docs"), metadata=claimed),
            grpc.StatusCode.PERMISSION_DENIED,
        )
    finally:
        registry.UnregisterVectorDB(reg.UnregisterVectorDBRequest(vector_db_id="admin-docs"), metadata=bearer(ADMIN))


def _cli(mesh: LocalMesh, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {key: value for key, value in os.environ.items() if key != "LLAMA_MESH_TOKEN"}
    return subprocess.run(
        [sys.executable, "-m", "llama_mesh.cli.main", "--gateway", mesh.gateway_address, "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, **(env or {})},
    )


def test_cli_and_client_take_a_token(mesh: LocalMesh) -> None:
    listed = _cli(mesh, "--token", ALICE, "shields", "list")
    assert listed.returncode == 0, listed.stderr
    assert "code-scanner" not in listed.stdout
    from_env = _cli(mesh, "models", "list", env={"LLAMA_MESH_TOKEN": ADMIN})
    assert from_env.returncode == 0 and CHAT_MODEL in from_env.stdout
    refused = _cli(mesh, "models", "list")
    assert refused.returncode != 0 and "UNAUTHENTICATED" in refused.stdout + refused.stderr
    with LlamaMeshClient(mesh.gateway_address, timeout=30, token=ALICE) as client:
        assert CHAT_MODEL in [model.identifier for model in client.models.list()]


def test_tokens_reach_no_log_line_and_no_span(mesh: LocalMesh) -> None:
    def read_logs() -> dict[str, str]:
        return {path.name: path.read_text(errors="replace") for path in (mesh.log_dir or Path()).glob("*.log")}

    # Spans are written in batches (every export_delay_ms): wait, bounded, for the gateway's to name the caller.
    deadline = time.monotonic() + 60
    logs = read_logs()
    while '"caller": "alice"' not in logs.get("gateway.log", "") and time.monotonic() < deadline:
        time.sleep(0.5)
        logs = read_logs()
    assert set(logs) >= {"gateway.log", "tool_runtime.log", "vector_io.log", "inference.log"}
    assert '"caller": "alice"' in logs["gateway.log"]  # spans were written there, naming the caller
    for name, text in logs.items():
        for token in TOKENS:
            assert token not in text, f"a token appears in {name}"
