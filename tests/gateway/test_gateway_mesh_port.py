"""The gateway's mesh port (gateway.mesh_address) with real processes, as docker compose and Kubernetes run them: mesh
mTLS with certificates of `make certs` (a throwaway CA), the gateway serving callers in plaintext. The services call
the gateway on its mesh port, mTLS only, where the services' token may act for the caller a service serves; that port
serves nobody without a mesh identity, and on the public port the services' token counts for nothing, so a caller who
has stolen it cannot act as another principal."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from llama.common.v1 import resources_pb2 as res
from llama.registry.v1 import registry_pb2 as reg
from llama.registry.v1 import registry_pb2_grpc
from llama.scoring.v1 import scoring_pb2, scoring_pb2_grpc
from llama_mesh.launcher import LocalMesh, free_loopback_port, isolated_env
from llama_mesh.mesh_certs import MeshCA, make_mesh_certs, process_hosts
from tests.gateway.distribution_variant import distribution_variant
from tests.gateway.test_auth_mesh import bearer
from tests.mesh.helpers import expect_error, reason_and_field

ALICE, BOB, SERVICE = (f"{name}-{secrets.token_hex(8)}" for name in ("alice", "bob", "service"))
PROCESSES = ("gateway", "datasetio", "scoring")


def _with_tokens(raw: dict[str, Any]) -> None:
    def scoped(prefix: str) -> dict[str, list[str]]:
        return {"datasets": [f"{prefix}-*"], "scoring_functions": ["*"]}

    raw["gateway"]["auth"] = {
        "service_token": "mesh-services",
        "tokens": [
            {"name": "mesh-services", "token": SERVICE, "resources": "all"},
            {"name": "alice", "token": ALICE, "resources": scoped("alice")},
            {"name": "bob", "token": BOB, "resources": scoped("bob")},
        ],
    }


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalMesh, Path]]:
    root = tmp_path_factory.mktemp("gateway-mesh-port")
    certs = root / "certs"
    make_mesh_certs(certs, list(PROCESSES))
    env = {
        **isolated_env(root / "data"),
        "LLAMA_MESH_TRACE_EXPORTER": "none",
        "LLAMA_MESH_TLS_CA_FILE": str(certs / "ca.crt"),
        "LLAMA_MESH_TLS_CERT_FILE": str(certs / "{service}.crt"),
        "LLAMA_MESH_TLS_KEY_FILE": str(certs / "{service}.key"),
        "LLAMA_MESH_GATEWAY_PLAINTEXT": "true",
        "LLAMA_MESH_GATEWAY_MESH_ADDRESS": f"127.0.0.1:{free_loopback_port()}",
    }
    local = LocalMesh(str(distribution_variant(root, _with_tokens)), env=env, log_dir=root / "logs")
    local.start(only=set(PROCESSES), timeout=300)
    try:
        yield local, certs
    finally:
        local.stop()


@pytest.fixture(scope="module")
def public(mesh: tuple[LocalMesh, Path]) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(mesh[0].gateway_address) as channel:
        yield channel


@pytest.fixture(scope="module")
def registered(mesh: tuple[LocalMesh, Path], public: grpc.Channel) -> None:
    """alice-answers (alice's) and bob-answers (bob's): one answered row each."""
    registry = registry_pb2_grpc.RegistryServiceStub(public)
    for name, token in (("alice-answers", ALICE), ("bob-answers", BOB)):
        path = Path(mesh[0].config.data_dir) / "datasets" / f"{name}.jsonl"
        path.write_text(json.dumps({"input_query": "2+2?", "expected_answer": "4", "generated_answer": "4"}) + "\n")
        dataset = res.Dataset(
            identifier=name, purpose=res.DATASET_PURPOSE_EVAL_QUESTION_ANSWER, source=res.DataSource(uri=str(path))
        )
        registry.RegisterDataset(reg.RegisterDatasetRequest(dataset=dataset), metadata=bearer(token), timeout=30)


def _score(channel: grpc.Channel, dataset_id: str, token: str) -> scoring_pb2.ScoreBatchResponse:
    request = scoring_pb2.ScoreBatchRequest(dataset_id=dataset_id)
    request.scoring_functions["basic::equality"].CopyFrom(res.ScoringFunctionParams())
    return scoring_pb2_grpc.ScoringServiceStub(channel).ScoreBatch(request, metadata=bearer(token), timeout=120)


def _datasets(channel: grpc.Channel, *metadata: tuple[str, str]) -> list[str]:
    reply = registry_pb2_grpc.RegistryServiceStub(channel).ListDatasets(
        reg.ListDatasetsRequest(page_size=100), metadata=metadata, timeout=30
    )
    return sorted(dataset.identifier for dataset in reply.datasets)


def _mesh_channel(mesh: LocalMesh, ca: Path, identity: tuple[Path, Path] | None) -> grpc.Channel:
    """A channel to the gateway's mesh port trusting the mesh CA, presenting `identity` (key, certificate) if any."""
    key, cert = (path.read_bytes() for path in identity) if identity else (None, None)
    credentials = grpc.ssl_channel_credentials(ca.read_bytes(), key, cert)
    return grpc.secure_channel(mesh.config.gateway.mesh_address, credentials)


@pytest.mark.usefixtures("registered")
def test_a_service_calls_the_gateway_on_its_mesh_port_for_the_caller_it_serves(public: grpc.Channel) -> None:
    """scoring reads the dataset through the gateway (on the mesh port: the public one refuses the services' token,
    below) acting for its caller: alice's own dataset is scored, bob gets no further than his token allows."""
    reply = _score(public, "alice-answers", ALICE)
    assert reply.results["basic::equality"].aggregated_results["accuracy"]["num_correct"] == 1.0
    error = expect_error(lambda: _score(public, "alice-answers", BOB), grpc.StatusCode.PERMISSION_DENIED)
    assert reason_and_field(error)[0] == "RESOURCE_NOT_ALLOWED" and "'bob'" in error.details()


@pytest.mark.usefixtures("registered")
def test_the_mesh_port_serves_only_the_processes_of_the_mesh(mesh: tuple[LocalMesh, Path], tmp_path: Path) -> None:
    local, certs = mesh
    ca = certs / "ca.crt"
    acting = (*bearer(SERVICE), ("llama-mesh-caller", "alice"))
    with grpc.insecure_channel(local.config.gateway.mesh_address) as plaintext:
        expect_error(lambda: _datasets(plaintext, *acting), grpc.StatusCode.UNAVAILABLE)
    with _mesh_channel(local, ca, None) as no_certificate:
        expect_error(lambda: _datasets(no_certificate, *acting), grpc.StatusCode.UNAVAILABLE)
    other = MeshCA(tmp_path / "other", name="another CA", days=1)
    foreign = other.issue("scoring", process_hosts("scoring"), "spiffe://llama-mesh/scoring")
    with _mesh_channel(local, ca, (foreign.key, foreign.cert)) as not_the_mesh_ca:
        expect_error(lambda: _datasets(not_the_mesh_ca, *acting), grpc.StatusCode.UNAVAILABLE)
    operator = MeshCA(certs, days=1).issue("operator", process_hosts("operator"))  # the mesh CA, no mesh identity
    with _mesh_channel(local, ca, (operator.key, operator.cert)) as no_identity:
        error = expect_error(lambda: _datasets(no_identity, *acting), grpc.StatusCode.PERMISSION_DENIED)
        assert reason_and_field(error)[0] == "NOT_A_MESH_PEER"
    # a service's identity: the services' token acts for the caller it names, with that caller's rights
    with _mesh_channel(local, ca, (certs / "datasetio.key", certs / "datasetio.crt")) as service:
        assert _datasets(service, *acting) == ["alice-answers"]
        assert _datasets(service, *bearer(SERVICE), ("llama-mesh-caller", "bob")) == ["bob-answers"]


@pytest.mark.usefixtures("registered")
def test_the_services_token_counts_for_nothing_on_the_public_port(public: grpc.Channel) -> None:
    """Stolen or sniffed, the services' token neither acts for another principal nor with its own rights there; a
    caller's own token with a forged caller header stays that caller's."""
    for metadata in (bearer(SERVICE), (*bearer(SERVICE), ("llama-mesh-caller", "bob"))):
        error = expect_error(lambda m=metadata: _datasets(public, *m), grpc.StatusCode.PERMISSION_DENIED)
        assert reason_and_field(error)[0] == "SERVICE_TOKEN_REFUSED"
    assert _datasets(public, *bearer(ALICE), ("llama-mesh-caller", "bob")) == ["alice-answers"]
