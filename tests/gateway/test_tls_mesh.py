"""TLS on the gateway's public endpoint and mutual TLS between the services, with real processes and a throwaway CA
made at test time: a client that trusts the CA gets through, a plaintext client does not, and under mTLS a client
without a certificate is refused."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from llama.common.v1 import content_pb2, resources_pb2
from llama.inference.v1 import inference_pb2, inference_pb2_grpc
from llama.registry.v1 import registry_pb2 as reg
from llama.registry.v1 import registry_pb2_grpc
from llama.telemetry.v1 import telemetry_pb2, telemetry_pb2_grpc
from llama.vector_io.v1 import vector_io_pb2 as vio
from llama.vector_io.v1 import vector_io_pb2_grpc
from llama_mesh.client import LlamaMeshClient
from llama_mesh.launcher import LocalMesh, free_loopback_port, isolated_env
from llama_mesh.mesh_certs import make_mesh_certs
from llama_mesh.resources import resource_metadata
from llama_mesh.runtime.mesh_identity import spiffe_id
from tests.gateway.certificates import CertFiles, ThrowawayCA
from tests.gateway.distribution_variant import distribution_variant
from tests.mesh.helpers import CHAT_MODEL, EMBEDDING_MODEL, expect_error, greedy, reason_and_field, user

UNTRACED = {"LLAMA_MESH_TRACE_EXPORTER": "none"}


def _running(
    root: Path, tls_settings: Callable[[ThrowawayCA, dict[str, Any]], None], only: set[str]
) -> Iterator[tuple[LocalMesh, ThrowawayCA]]:
    """A mesh of `only`, its run.yaml changed by `tls_settings` with a new throwaway CA; stopped afterwards. Traced
    (to its telemetry service) when that is one of them."""
    ca = ThrowawayCA(root / "pki")
    config = distribution_variant(root, lambda raw: tls_settings(ca, raw))
    env = {**isolated_env(root / "data"), **({} if "telemetry" in only else UNTRACED)}
    mesh = LocalMesh(str(config), env=env, log_dir=root / "logs")
    mesh.start(only=only, timeout=300)
    yield mesh, ca
    mesh.stop()


def _list_models(channel: grpc.Channel) -> list[str]:
    reply = registry_pb2_grpc.RegistryServiceStub(channel).ListModels(reg.ListModelsRequest(), timeout=10)
    return [model.identifier for model in reply.models]


def _refused(channel: grpc.Channel) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        _list_models(channel)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    return caught.value


def _credentials(ca: ThrowawayCA, client: CertFiles | None = None) -> grpc.ChannelCredentials:
    identity = (client.key.read_bytes(), client.cert.read_bytes()) if client else (None, None)
    return grpc.ssl_channel_credentials(ca.cert_file.read_bytes(), *identity)


def _public_tls(ca: ThrowawayCA, raw: dict[str, Any]) -> None:
    server = ca.issue("gateway")
    # ca_file: what the launcher's readiness checks (and services calling the gateway) trust
    raw["gateway"]["tls"] = {"cert_file": str(server.cert), "key_file": str(server.key), "ca_file": str(ca.cert_file)}


@pytest.fixture(scope="module")
def public_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalMesh, ThrowawayCA]]:
    """The gateway alone, serving TLS with a certificate of a throwaway CA."""
    yield from _running(tmp_path_factory.mktemp("public-tls"), _public_tls, {"gateway"})


def test_a_client_that_trusts_the_ca_gets_through(public_tls: tuple[LocalMesh, ThrowawayCA]) -> None:
    mesh, ca = public_tls
    with grpc.secure_channel(mesh.gateway_address, _credentials(ca)) as channel:
        assert CHAT_MODEL in _list_models(channel)
    with LlamaMeshClient(mesh.gateway_address, timeout=10, credentials=_credentials(ca)) as client:
        assert CHAT_MODEL in [model.identifier for model in client.models.list()]
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "llama_mesh.cli.main",
            "--gateway",
            mesh.gateway_address,
            "--tls-ca",
            str(ca.cert_file),
            "--json",
            "models",
            "list",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0 and CHAT_MODEL in cli.stdout, cli.stderr


def test_a_plaintext_client_fails(public_tls: tuple[LocalMesh, ThrowawayCA]) -> None:
    mesh, _ = public_tls
    with grpc.insecure_channel(mesh.gateway_address) as channel:
        _refused(channel)


def test_a_client_that_does_not_trust_the_ca_fails(public_tls: tuple[LocalMesh, ThrowawayCA], tmp_path: Path) -> None:
    mesh, _ = public_tls
    other = ThrowawayCA(tmp_path / "other", name="another CA")
    with grpc.secure_channel(mesh.gateway_address, _credentials(other)) as channel:
        _refused(channel)


MTLS_SERVICES = ("gateway", "inference", "vector_io", "telemetry")


def _mesh_mtls(ca: ThrowawayCA, raw: dict[str, Any]) -> None:
    """Each process its own certificate, naming it by its SPIFFE id; `{service}` picks each one's files."""
    for name in MTLS_SERVICES:
        ca.issue(name, spiffe_id(name))
    raw["tls"] = {
        "ca_file": str(ca.cert_file),
        "cert_file": str(ca.directory / "{service}.crt"),
        "key_file": str(ca.directory / "{service}.key"),
    }


@pytest.fixture(scope="module")
def mutual_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalMesh, ThrowawayCA]]:
    """Gateway, inference, vector_io and telemetry with mesh mTLS: every server asks for a certificate of the mesh CA,
    and every process exports its spans to telemetry over it."""
    services = set(MTLS_SERVICES)
    yield from _running(tmp_path_factory.mktemp("mutual-tls"), _mesh_mtls, services)


def test_with_mtls_a_client_without_a_certificate_is_refused(mutual_tls: tuple[LocalMesh, ThrowawayCA]) -> None:
    mesh, ca = mutual_tls
    inference_address = mesh.config.service("inference").address
    for address in (mesh.gateway_address, inference_address):
        with grpc.secure_channel(address, _credentials(ca)) as channel:
            _refused(channel)
        with grpc.insecure_channel(address) as channel:
            _refused(channel)


def _direct_chat(address: str, credentials: grpc.ChannelCredentials, *metadata: tuple[str, Any]) -> None:
    with grpc.secure_channel(address, credentials) as channel:
        inference_pb2_grpc.InferenceServiceStub(channel).ChatCompletion(
            inference_pb2.ChatCompletionRequest(model_id=CHAT_MODEL, messages=[user("hi")], sampling_params=greedy(2)),
            metadata=metadata,
            timeout=120,
        )


def test_with_mtls_a_service_serves_only_the_gateways_identity(mutual_tls: tuple[LocalMesh, ThrowawayCA]) -> None:
    """A certificate of the mesh CA is not enough to call a service: it must name the gateway (a peer's may only
    export spans, and internal headers count from the gateway alone)."""
    mesh, ca = mutual_tls
    inference = mesh.config.service("inference").address
    model = resources_pb2.Model(
        identifier=CHAT_MODEL, provider_id="llama-cpp", provider_resource_id="SmolLM2-135M-Instruct"
    )
    forged = (resource_metadata(model), ("llama-mesh-caller", "admin"))
    for client, reason in ((ca.issue("operator"), "NOT_A_MESH_PEER"), (ca.issue("peer", spiffe_id("vector_io")), "")):
        for metadata in ((), forged):
            error = expect_error(
                lambda c=client, m=metadata: _direct_chat(inference, _credentials(ca, c), *m),
                grpc.StatusCode.PERMISSION_DENIED,
            )
            wanted = reason or ("INTERNAL_METADATA_REFUSED" if metadata else "GATEWAY_ONLY")
            assert reason_and_field(error)[0] == wanted
    # the gateway's identity is served (here by the test, which holds the gateway's key)
    gateway = CertFiles(ca.directory / "gateway.crt", ca.directory / "gateway.key")
    _direct_chat(inference, _credentials(ca, gateway), resource_metadata(model))


def test_with_mtls_a_client_with_a_certificate_is_served_end_to_end(
    mutual_tls: tuple[LocalMesh, ThrowawayCA],
) -> None:
    """The gateway reaches inference and vector_io over mTLS, and vector_io reaches the gateway (for embeddings)."""
    mesh, ca = mutual_tls
    client = ca.issue("operator")
    trace_id = secrets.token_hex(16)
    with grpc.secure_channel(mesh.gateway_address, _credentials(ca, client)) as channel:
        reply = inference_pb2_grpc.InferenceServiceStub(channel).ChatCompletion(
            inference_pb2.ChatCompletionRequest(model_id=CHAT_MODEL, messages=[user("hi")], sampling_params=greedy(4)),
            metadata=(("traceparent", f"00-{trace_id}-{secrets.token_hex(8)}-01"),),
            timeout=120,
        )
        assert reply.completion_message.content.text
        registry_pb2_grpc.RegistryServiceStub(channel).RegisterVectorDB(
            reg.RegisterVectorDBRequest(
                vector_db=resources_pb2.VectorDB(identifier="tls-docs", embedding_model=EMBEDDING_MODEL)
            ),
            timeout=120,
        )
        vector_io = vector_io_pb2_grpc.VectorIOServiceStub(channel)
        chunk = vio.Chunk(chunk_id="tower", content=content_pb2.Content(text="The Eiffel Tower is in Paris."))
        vector_io.InsertChunks(vio.InsertChunksRequest(vector_db_id="tls-docs", chunks=[chunk]), timeout=120)
        found = vector_io.QueryChunks(
            vio.QueryChunksRequest(vector_db_id="tls-docs", query=content_pb2.Content(text="Where is the tower?")),
            timeout=120,
        )
        assert [chunk.chunk_id for chunk in found.chunks] == ["tower"]
        assert _services_traced(telemetry_pb2_grpc.TelemetryServiceStub(channel), trace_id) >= {
            "llama-mesh.gateway",
            "llama-mesh.inference",
        }


def _services_traced(telemetry: telemetry_pb2_grpc.TelemetryServiceStub, trace_id: str) -> set[str]:
    """The services whose spans of the trace reached the telemetry service (over mTLS), once two have; spans are
    exported in batches, so this waits a bounded time."""
    deadline = time.monotonic() + 60
    services: set[str] = set()
    while len(services) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
        try:
            trace = telemetry.GetTrace(telemetry_pb2.GetTraceRequest(trace_id=trace_id), timeout=10)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND:
                raise
            continue
        tree = telemetry.GetSpanTree(telemetry_pb2.GetSpanTreeRequest(span_id=trace.root_span_id), timeout=10).root
        nodes = [tree]
        services = set()
        while nodes:
            node = nodes.pop()
            services.add(node.span.attributes["service.name"])
            nodes.extend(node.children)
    return services


@pytest.fixture(scope="module")
def compose_like(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMesh]:
    """local-cpu as docker compose configures it, by environment alone: certificates of `make certs`, each process
    its own ({service}), and the gateway serving callers in plaintext and the services on its mesh port."""
    root = tmp_path_factory.mktemp("compose-like")
    certs = root / "certs"
    make_mesh_certs(certs, ["gateway", "inference"])
    env = {
        **isolated_env(root / "data"),
        **UNTRACED,
        "LLAMA_MESH_TLS_CA_FILE": str(certs / "ca.crt"),
        "LLAMA_MESH_TLS_CERT_FILE": str(certs / "{service}.crt"),
        "LLAMA_MESH_TLS_KEY_FILE": str(certs / "{service}.key"),
        "LLAMA_MESH_GATEWAY_PLAINTEXT": "true",
        "LLAMA_MESH_GATEWAY_MESH_ADDRESS": f"127.0.0.1:{free_loopback_port()}",
    }
    mesh = LocalMesh("local-cpu", env=env, log_dir=root / "logs")
    mesh.start(only={"gateway", "inference"}, timeout=300)
    yield mesh
    mesh.stop()


def test_a_plaintext_gateway_reaches_the_services_over_mtls(compose_like: LocalMesh) -> None:
    mesh = compose_like
    assert mesh.config.tls is not None and not mesh.secret
    with grpc.insecure_channel(mesh.gateway_address) as channel:
        reply = inference_pb2_grpc.InferenceServiceStub(channel).ChatCompletion(
            inference_pb2.ChatCompletionRequest(model_id=CHAT_MODEL, messages=[user("hi")], sampling_params=greedy(2)),
            timeout=120,
        )
        assert reply.completion_message.content.text
    with grpc.insecure_channel(mesh.config.service("inference").address) as channel:
        _refused(channel)  # the service itself speaks only mTLS
