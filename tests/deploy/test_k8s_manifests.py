"""deploy/k8s renders with `kubectl kustomize`, passes `kubernetes-validate --strict`, and runs every service of the
distribution it carries with gRPC probes that ask for that service (deploy/k8s/validate.py, `make validate-k8s`)."""

from __future__ import annotations

import pytest
import yaml

from deploy.k8s import validate


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


def test_open_service_ports_and_a_missing_mesh_secret_are_reported() -> None:
    objects = [obj for obj in yaml.safe_load_all(validate.render("cpu")) if obj]
    assert validate.security_errors(objects) == []
    kinds = {(obj["kind"], obj["metadata"]["name"]) for obj in objects}
    assert ("NetworkPolicy", "qdrant-from-vector-io") in kinds and ("NetworkPolicy", "telemetry-from-the-mesh") in kinds
    inference = next(obj for obj in objects if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "inference")
    inference["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = []
    open_mesh = [obj for obj in objects if obj["kind"] != "NetworkPolicy"]
    assert validate.security_errors(open_mesh) == [
        "no NetworkPolicy denies ingress to every pod by default",
        "no NetworkPolicy lets the gateway (and only it) reach the services' gRPC ports",
        "inference: the per-mesh secret is not mounted at /etc/llama-mesh-secret/secret",
    ]


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
