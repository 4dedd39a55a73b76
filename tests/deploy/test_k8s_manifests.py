"""deploy/k8s renders with `kubectl kustomize`, passes `kubernetes-validate --strict`, and runs every service of the
distribution it carries with gRPC probes that ask for that service (deploy/k8s/validate.py, `make validate-k8s`)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from deploy.k8s import validate
from llama_mesh.runtime.mesh_identity import spiffe_id
from llama_mesh.runtime.transport_security import OPENAI_EDGE_SERVICE


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_overlay_renders_validates_and_runs_every_service(overlay: str) -> None:
    assert validate.validate(overlay) == []


def test_a_service_without_a_deployment_or_probing_another_name_is_reported() -> None:
    objects = [obj for obj in yaml.safe_load_all(validate.render("cpu")) if obj]
    config = validate.carried_distribution(objects)
    without_safety = [
        obj for obj in objects if not (obj["kind"] == "Deployment" and obj["metadata"]["name"] == "safety")
    ]
    scoring = next(
        obj for obj in without_safety if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "scoring"
    )
    scoring["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["grpc"]["service"] = "eval"
    assert validate.service_errors(without_safety, config) == [
        "no Deployment runs the safety service of the distribution (add one under deploy/k8s/base)",
        "scoring: readinessProbe asks gRPC health for 'eval', not 'scoring'",
    ]


def _objects(overlay: str) -> list[dict[str, Any]]:
    return [obj for obj in yaml.safe_load_all(validate.render(overlay)) if obj]


def _find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(obj for obj in objects if obj["kind"] == kind and obj["metadata"]["name"] == name)


def test_open_service_ports_and_a_missing_mesh_secret_are_reported() -> None:
    objects = _objects("cpu-mesh-secret")
    assert validate.security_errors(objects) == []
    kinds = {(obj["kind"], obj["metadata"]["name"]) for obj in objects}
    assert ("NetworkPolicy", "qdrant-from-vector-io") in kinds and ("NetworkPolicy", "telemetry-from-the-mesh") in kinds
    assert not any(obj["apiVersion"].startswith("cert-manager.io/") for obj in objects)
    inference = _find(objects, "Deployment", "inference")
    inference["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = []
    open_mesh = [obj for obj in objects if obj["kind"] != "NetworkPolicy"]
    assert validate.security_errors(open_mesh) == [
        "no NetworkPolicy denies ingress to every pod by default",
        "inference: the per-mesh secret is not mounted at /etc/llama-mesh-secret/secret",
    ]


def test_network_policies_allow_exactly_the_flows_the_mesh_needs() -> None:
    """Gateway -> every service, every process -> telemetry, vector_io -> Qdrant; never a service -> a service."""
    objects = _objects("cpu")
    policies = [obj for obj in objects if obj["kind"] == "NetworkPolicy"]
    pods = {
        obj["metadata"]["name"]: obj["spec"]["template"]["metadata"]["labels"]
        for obj in objects
        if obj["kind"] in ("Deployment", "StatefulSet")
    }
    assert validate.reaches(policies, pods["gateway"], pods["post-training"], 50070)
    assert validate.reaches(policies, pods["gateway"], pods["synthetic-data-generation"], 50071)
    assert validate.reaches(policies, pods["openai-edge"], pods["telemetry"], 50064)
    assert validate.reaches(policies, pods["vector-io"], pods["qdrant"], 6334)
    assert not validate.reaches(policies, pods["agents"], pods["inference"], 50061)
    assert not validate.reaches(policies, pods["inference"], pods["qdrant"], 6334)
    assert not validate.reaches(policies, {"app.kubernetes.io/name": "intruder"}, pods["post-training"], 50070)

    # the policies as they were before post-training and synthetic data generation had a rule, and pods unlabelled
    services = _find(objects, "NetworkPolicy", "services-from-gateway")
    values = services["spec"]["podSelector"]["matchExpressions"][0]["values"]
    values[:] = [name for name in values if name not in ("post-training", "synthetic-data-generation")]
    _find(objects, "Deployment", "eval")["spec"]["template"]["metadata"]["labels"].pop("app.kubernetes.io/part-of")
    agents = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "agents"}}}
    services["spec"]["ingress"].append({"from": [agents], "ports": [{"port": 50061}]})
    assert validate.network_policy_errors(objects) == [
        "eval: no NetworkPolicy lets its pods export spans to telemetry (port 50064)",
        "inference: NetworkPolicies let pods other than the gateway's reach its gRPC port",
        "post-training: no NetworkPolicy lets the gateway reach its port 50070",
        "synthetic-data-generation: no NetworkPolicy lets the gateway reach its port 50071",
    ]


def test_the_gateways_mesh_port_takes_the_services_and_its_public_port_clients() -> None:
    """Under mesh mTLS the services call the gateway at gateway-mesh:50052 (the container's port `mesh`), which only
    they may reach; clients reach the public port 50051. Breaking any of it is reported."""
    objects = _objects("cpu")
    env = next(obj["data"] for obj in objects if obj["metadata"]["name"].startswith("llama-mesh-env"))
    assert env["LLAMA_MESH_GATEWAY_MESH_ADDRESS"] == "dns:///gateway-mesh:50052"
    ports = _find(objects, "Service", "gateway-mesh")["spec"]["ports"]
    assert {"name": "mesh", "port": 50052, "targetPort": "mesh", "appProtocol": "grpc"} in ports
    policies = [obj for obj in objects if obj["kind"] == "NetworkPolicy"]
    pods = {obj["metadata"]["name"]: obj["spec"]["template"]["metadata"]["labels"] for obj in objects
            if obj["kind"] == "Deployment"}  # fmt: skip
    outsider = {"app.kubernetes.io/name": "intruder"}
    assert validate.reaches(policies, pods["agents"], pods["gateway"], 50052)
    assert validate.reaches(policies, outsider, pods["gateway"], 50051)
    assert not validate.reaches(policies, outsider, pods["gateway"], 50052)
    assert not validate.reaches(policies, pods["openai-edge"], pods["gateway"], 50052)
    assert validate.security_errors(objects) == []

    mesh_port = _find(objects, "NetworkPolicy", "gateway-mesh-port-from-services")
    mesh_port["spec"]["ingress"][0]["from"][0]["podSelector"]["matchExpressions"][0]["values"].remove("eval")
    del _find(objects, "Certificate", "gateway-mesh")["spec"]["dnsNames"][1]
    assert validate.security_errors(objects) == [
        "eval: no NetworkPolicy lets it reach the gateway's mesh port 50052",
        "gateway: its certificate does not name gateway-mesh, where the mesh reaches it",
    ]
    _find(objects, "NetworkPolicy", "gateway-from-clients")["spec"]["ingress"][0]["ports"].append({"port": 50052})
    assert validate.network_policy_errors(objects) == [
        "openai-edge: NetworkPolicies let it reach the gateway's mesh port (it calls the public one)",
        "gateway: NetworkPolicies let pods outside the mesh reach its mesh port 50052",
    ]
    ports.pop()
    env["LLAMA_MESH_GATEWAY_MESH_ADDRESS"] = ""
    assert validate.gateway_mesh_port_errors(objects, "dns:///gateway-mesh:50052") == [
        "LLAMA_MESH_GATEWAY_MESH_ADDRESS: no Service gateway-mesh exposes the gateway's mesh port 50052 at port 50052"
    ]
    assert "llama-mesh-env: no LLAMA_MESH_GATEWAY_MESH_ADDRESS, so the services would call the gateway's plaintext " \
        "port" in validate.security_errors(objects)  # fmt: skip


@pytest.mark.parametrize("overlay", ["cpu", "gpu"])
def test_every_process_mounts_a_certificate_naming_it_as_the_services_check(overlay: str) -> None:
    """Each Deployment mounts its own cert-manager certificate at /certs, whose URI SAN is the SPIFFE id that
    mesh_identity maps to the process it runs (the gateway's alone to the gateway) and whose DNS names are the names
    the mesh reaches it at; probes use the plaintext health-only port."""
    objects = _objects(overlay)
    env = next(obj["data"] for obj in objects if obj["metadata"]["name"].startswith("llama-mesh-env"))
    assert (env["LLAMA_MESH_TLS_CERT_FILE"], env["LLAMA_MESH_HEALTH_PORT"]) == ("/certs/tls.crt", "8086")
    assert "LLAMA_MESH_SECRET_FILE" not in env
    config = validate.carried_distribution(objects)
    identities = {}
    for deployment in (obj for obj in objects if obj["kind"] == "Deployment"):
        certificate = validate.certificate_of(deployment, objects)
        assert certificate is not None, deployment["metadata"]["name"]
        [uri] = certificate["spec"]["uris"]
        identities[validate.served_process(deployment)] = uri.removeprefix("spiffe://llama-mesh/")
        assert certificate["spec"]["secretName"] == f"{deployment['metadata']['name']}-mesh-tls"
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert "grpc" not in container["readinessProbe"] or container["readinessProbe"]["grpc"]["port"] == 8086
    processes = ["gateway", *(service.name for service in config.services), OPENAI_EDGE_SERVICE]
    assert identities == {process: process for process in processes}
    assert spiffe_id("gateway") == "spiffe://llama-mesh/gateway"  # what MeshPeerAuth takes for the gateway
    gateway = _find(objects, "Certificate", "gateway-mesh")["spec"]
    assert gateway["dnsNames"] == ["gateway", "gateway-mesh"]
    assert _find(objects, "Certificate", "vector-io-mesh")["spec"]["dnsNames"] == ["vector-io"]


def test_a_deployment_without_its_certificate_or_with_anothers_identity_is_reported() -> None:
    objects = _objects("cpu")
    assert validate.security_errors(objects) == []
    inference = _find(objects, "Deployment", "inference")
    container = inference["spec"]["template"]["spec"]["containers"][0]
    container["volumeMounts"] = [mount for mount in container["volumeMounts"] if mount["mountPath"] != "/certs"]
    container["startupProbe"]["grpc"]["port"] = 50061
    _find(objects, "Certificate", "safety-mesh")["spec"]["uris"] = [spiffe_id("gateway")]
    _find(objects, "Certificate", "gateway-mesh")["spec"]["dnsNames"] = ["gateway"]
    _find(objects, "Certificate", "eval-mesh")["spec"]["usages"] = ["digital signature", "server auth"]
    _find(objects, "Certificate", "agents-mesh")["spec"]["issuerRef"]["name"] = "llama-mesh-selfsigned"
    assert validate.security_errors(objects) == [
        "agents: its certificate is not issued by the mesh CA (a CA Issuer of a self-signed CA)",
        "eval: its certificate is not for both server and client auth",
        "gateway: its certificate does not name gateway-mesh, where the mesh reaches it",
        "inference: no cert-manager Certificate's Secret is mounted at /certs",
        "safety: its certificate names ['spiffe://llama-mesh/gateway'], not ['spiffe://llama-mesh/safety']",
    ]
    env = next(obj for obj in objects if obj["metadata"]["name"].startswith("llama-mesh-env"))["data"]
    del env["LLAMA_MESH_HEALTH_PORT"]
    assert "llama-mesh-env: no LLAMA_MESH_HEALTH_PORT, so probes cannot reach a process serving mTLS" in (
        validate.security_errors(objects)
    )


def test_cert_manager_objects_are_checked_against_their_schema() -> None:
    objects = _objects("cpu")
    cert_manager = [obj for obj in objects if obj["apiVersion"].startswith("cert-manager.io/")]
    assert {obj["kind"] for obj in cert_manager} == {"Issuer", "Certificate"}
    assert validate.cert_manager_errors(cert_manager) == []
    certificate = _find(cert_manager, "Certificate", "inference-mesh")
    certificate["spec"]["dnsName"] = certificate["spec"].pop("dnsNames")
    certificate["spec"]["usages"].append("server")
    _find(cert_manager, "Issuer", "llama-mesh-ca")["spec"] = {"ca": {}}
    errors = validate.cert_manager_errors(cert_manager)
    assert [error.split(": '")[0] if "is not one of" in error else error for error in errors] == [
        "Certificate inference-mesh: spec: Additional properties are not allowed ('dnsName' was unexpected)",
        "Certificate inference-mesh: spec/usages/3",
        "Issuer llama-mesh-ca: spec/ca: 'secretName' is a required property",
    ]
    assert "'server' is not one of" in errors[1]


def test_schema_errors_name_the_object_and_the_unexpected_field() -> None:
    manifest = validate.render("cpu").replace("readinessProbe:", "readinesProbe:", 1)
    errors = validate.schema_errors(manifest)
    assert errors
    assert "'readinesProbe' was unexpected" in errors[0]


def test_cluster_distributions_put_vector_io_on_qdrant_and_inference_on_vllm_for_gpus() -> None:
    for overlay, chat_provider in (("cpu", "inline::llama-cpp"), ("gpu", "inline::vllm")):
        objects = [obj for obj in yaml.safe_load_all(validate.render(overlay)) if obj]
        config = validate.carried_distribution(objects)
        qdrant = config.service("vector_io").providers[0].config
        assert (qdrant["engine"], qdrant["url"], qdrant["prefer_grpc"]) == ("server", "http://qdrant:6333", True)
        assert config.service("inference").providers[0].provider_type == chat_provider
    vllm = config.service("inference").providers[0].config
    assert vllm["tensor_parallel_size"] == "1"  # LLAMA_MESH_TENSOR_PARALLEL, set by overlays/gpu/inference-gpu.yaml
    assert [model["provider_id"] for model in config.resources.models] == ["vllm", "sentence-transformers"]


def test_the_gpu_overlay_serves_with_gpu_vllms_engine_settings() -> None:
    from llama_mesh.runtime.config import distribution_path, load_run_config

    objects = [obj for obj in yaml.safe_load_all(validate.render("gpu")) if obj]
    carried = validate.carried_distribution(objects).service("inference").providers[0]
    gpu_vllm = load_run_config(distribution_path("gpu-vllm"), {}).service("inference").providers[0]
    assert carried.config == gpu_vllm.config  # same settings and defaults; set per pod by inference-gpu.yaml's env
