"""The identities deploy/k8s gives its pods (components/mesh-tls: one cert-manager Certificate per process), used by
real processes with the TLS settings of the manifests' llama-mesh-env: certificates carrying exactly the rendered URI
SANs and DNS names (plus the loopback names these local processes are reached at), signed by a throwaway CA that
stands in for cert-manager's CA Issuer. The plaintext gateway reaches datasetio over mTLS as the gateway; datasetio's
own identity, or the OpenAI edge's, may not call datasetio's API nor send internal metadata."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from google.protobuf import struct_pb2

from deploy.k8s import validate
from llama.common.v1 import resources_pb2 as res
from llama.datasetio.v1 import datasetio_pb2, datasetio_pb2_grpc
from llama.registry.v1 import registry_pb2, registry_pb2_grpc
from llama_mesh.launcher import LocalMesh, free_loopback_port, isolated_env
from llama_mesh.mesh_certs import MeshCA
from llama_mesh.resources import resource_metadata
from tests.mesh.helpers import expect_error, reason_and_field

PROCESSES = ("gateway", "datasetio", "openai_edge")
LOOPBACK = ["localhost", "127.0.0.1"]
FORGED = ("llama-mesh-caller", "admin")


def _rendered_identities() -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The Certificate spec each process's pods mount, by process, and the env every pod reads."""
    objects = [obj for obj in yaml.safe_load_all(validate.render("cpu")) if obj]
    specs = {}
    for deployment in (obj for obj in objects if obj["kind"] == "Deployment"):
        certificate = validate.certificate_of(deployment, objects)
        assert certificate is not None
        specs[validate.served_process(deployment)] = certificate["spec"]
    env = next(obj["data"] for obj in objects if obj["metadata"]["name"].startswith("llama-mesh-env"))
    return specs, env


@pytest.fixture(scope="module")
def k8s_like(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalMesh, Path]]:
    root = tmp_path_factory.mktemp("k8s-identities")
    specs, pod_env = _rendered_identities()
    ca = MeshCA(root / "pki", name="stand-in for cert-manager's llama-mesh-ca", days=1)
    for process in PROCESSES:
        [uri] = specs[process]["uris"]
        ca.issue(process, [*specs[process]["dnsNames"], *LOOPBACK], uri)
    # the manifests' settings, each process's files in place of its pod's /certs mount
    files = {"/certs/ca.crt": ca.cert_file, "/certs/tls.crt": root / "pki/{service}.crt"}
    files["/certs/tls.key"] = root / "pki/{service}.key"
    tls = {
        key: str(files[value])
        for key, value in pod_env.items()
        if key in ("LLAMA_MESH_TLS_CA_FILE", "LLAMA_MESH_TLS_CERT_FILE", "LLAMA_MESH_TLS_KEY_FILE")
    }
    assert pod_env["LLAMA_MESH_GATEWAY_MESH_ADDRESS"] == "dns:///gateway-mesh:50052"
    env = {
        **isolated_env(root / "data"),
        **tls,
        "LLAMA_MESH_GATEWAY_PLAINTEXT": pod_env["LLAMA_MESH_GATEWAY_PLAINTEXT"],
        # the manifests' gateway-mesh:50052, on the loopback
        "LLAMA_MESH_GATEWAY_MESH_ADDRESS": f"127.0.0.1:{free_loopback_port()}",
        "LLAMA_MESH_TRACE_EXPORTER": "none",
    }
    mesh = LocalMesh("local-cpu", env=env, log_dir=root / "logs")
    mesh.start(only={"gateway", "datasetio"}, timeout=300)
    yield mesh, root / "pki"
    mesh.stop()


def _credentials(pki: Path, process: str) -> grpc.ChannelCredentials:
    key, cert = (pki / f"{process}.{suffix}" for suffix in ("key", "crt"))
    return grpc.ssl_channel_credentials((pki / "ca.crt").read_bytes(), key.read_bytes(), cert.read_bytes())


def _rows(channel: grpc.Channel, *metadata: tuple[str, Any]) -> list[dict[str, Any]]:
    reply = datasetio_pb2_grpc.DatasetIOServiceStub(channel).IterRows(
        datasetio_pb2.IterRowsRequest(dataset_id="k8s/rows", limit=10), metadata=metadata, timeout=30
    )
    return [dict(row) for row in reply.rows]


def test_the_gateway_identity_reaches_a_service_and_no_other_does(k8s_like: tuple[LocalMesh, Path]) -> None:
    mesh, pki = k8s_like
    row = struct_pb2.Struct()
    row.update({"input_query": "1+1?", "expected_answer": "2"})
    dataset = res.Dataset(
        identifier="k8s/rows",
        purpose=res.DATASET_PURPOSE_EVAL_QUESTION_ANSWER,
        source=res.DataSource(rows=res.RowsSource(rows=[row])),
    )
    with grpc.insecure_channel(mesh.gateway_address) as channel:  # the gateway's port stays plaintext
        registry = registry_pb2_grpc.RegistryServiceStub(channel)
        registry.RegisterDataset(registry_pb2.RegisterDatasetRequest(dataset=dataset), timeout=60)
        registered = registry.GetDataset(registry_pb2.GetDatasetRequest(dataset_id="k8s/rows"), timeout=30)
        assert _rows(channel) == [{"input_query": "1+1?", "expected_answer": "2"}]
    datasetio = mesh.config.service("datasetio").address
    with grpc.secure_channel(datasetio, _credentials(pki, "gateway")) as channel:
        # the gateway's identity is served, internal metadata included (here the test holds the gateway's key)
        assert _rows(channel, resource_metadata(registered)) == [{"input_query": "1+1?", "expected_answer": "2"}]
    with grpc.secure_channel(mesh.config.gateway.mesh_address, _credentials(pki, "datasetio")) as channel:
        # datasetio's identity reaches the gateway's mesh port (the gateway's certificate names gateway-mesh)
        listed = registry_pb2_grpc.RegistryServiceStub(channel).ListDatasets(registry_pb2.ListDatasetsRequest())
        assert "k8s/rows" in [dataset.identifier for dataset in listed.datasets]
    for process in ("datasetio", "openai_edge"):
        with grpc.secure_channel(datasetio, _credentials(pki, process)) as channel:
            error = expect_error(lambda channel=channel: _rows(channel), grpc.StatusCode.PERMISSION_DENIED)
            assert reason_and_field(error)[0] == "GATEWAY_ONLY"
            error = expect_error(lambda channel=channel: _rows(channel, FORGED), grpc.StatusCode.PERMISSION_DENIED)
            assert reason_and_field(error)[0] == "INTERNAL_METADATA_REFUSED"
