"""Every distribution runs every API the mesh serves, with local-cpu's providers and pre-registered resources for all
but inference, resources that name models it registers, and provider configs that every service accepts (built, not
started).

The APIs come from the contracts (every API service in protos/, as the gateway's catalog reads them) and from the
service folders (services/<api>/__main__.py, which also covers services that are not gRPC APIs): a new API fails
here, naming each distribution that lacks it, until every distribution runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.api_catalog import GATEWAY_APIS, api_services
from llama_mesh.runtime.config import RunConfig, load_run_config
from services.safety.providers import ShieldProviders
from services.tool_runtime.providers import ToolRuntimeProviders
from services.vector_io.providers import VectorStores
from services.vector_io.providers.qdrant_edge import EdgeVectorStore

ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTIONS = sorted(path.parent.name for path in (ROOT / "distributions").glob("*/run.yaml"))
CONTRACT_APIS = {service.full_name.split(".")[1] for service in api_services()} - GATEWAY_APIS
# The OpenAI-compatible HTTP edge is a client of the gateway, not a gRPC API: its own section of run.yaml.
HTTP_EDGE = "openai_edge"
SERVICE_FOLDERS = {path.parent.name for path in (ROOT / "services").glob("*/__main__.py")} - {HTTP_EDGE}
APIS = sorted(CONTRACT_APIS | SERVICE_FOLDERS)
# Resources every distribution registers as local-cpu does (models differ: each serves its own chat model).
SHARED_RESOURCES = ("tool_groups", "shields", "scoring_functions")


def load(name: str, tmp_path: Path) -> RunConfig:
    return load_run_config(ROOT / "distributions" / name / "run.yaml", {"LLAMA_MESH_DATA_DIR": str(tmp_path)})


def provider_types(config: RunConfig, api: str) -> dict[str, str]:
    return {p.provider_id: p.provider_type for p in config.service(api).providers}


def models_of_type(config: RunConfig, model_type: str) -> set[str]:
    return {m["identifier"] for m in config.resources.models if m["model_type"] == model_type}


def test_the_distributions_and_apis_are_found() -> None:
    assert {"local-cpu", "vllm-cpu", "gpu-vllm", "open-benchmark"} <= set(DISTRIBUTIONS)
    assert {"inference", "agents", "eval", "telemetry"} <= set(APIS)


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_every_api_has_a_service(name: str, api: str, tmp_path: Path) -> None:
    if api not in SERVICE_FOLDERS:
        pytest.skip(f"the {api} contract has no service yet (services/{api}/__main__.py)")
    served = {service.api for service in load(name, tmp_path).services}
    assert api in served, f"distributions/{name}/run.yaml has no service for the {api} API (add one as in local-cpu)"


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_every_distribution_serves_the_openai_edge(name: str, tmp_path: Path) -> None:
    assert getattr(load(name, tmp_path), HTTP_EDGE) is not None, f"distributions/{name}/run.yaml has no {HTTP_EDGE}"


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_services_other_than_inference_match_local_cpu(name: str, tmp_path: Path) -> None:
    config, local = load(name, tmp_path), load("local-cpu", tmp_path)
    assert {service.name for service in config.services} == {service.name for service in local.services}
    for service in local.services:
        if service.api != "inference":
            assert provider_types(config, service.api) == provider_types(local, service.api), service.api
    for kind in SHARED_RESOURCES:
        ours = {item["identifier"] for item in getattr(config.resources, kind)}
        missing = {item["identifier"] for item in getattr(local.resources, kind)} - ours
        assert not missing, f"{name} does not register local-cpu's {kind}: {sorted(missing)}"


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_resources_name_models_the_distribution_registers(name: str, tmp_path: Path) -> None:
    config = load(name, tmp_path)
    llms, embedders = models_of_type(config, "MODEL_TYPE_LLM"), models_of_type(config, "MODEL_TYPE_EMBEDDING")
    assert llms and "all-MiniLM-L6-v2" in embedders
    inference_providers = provider_types(config, "inference")
    assert all(model["provider_id"] in inference_providers for model in config.resources.models)

    guard = next(p for p in config.service("safety").providers if p.provider_type == "inline::llama-guard")
    assert guard.config["model"] in llms
    agents = config.service("agents").providers[0]
    assert agents.config["document_embedding_model"] in embedders
    for function in config.resources.scoring_functions:
        judge = function["params"].get("judge_model")
        assert judge is None or judge in llms, (function["identifier"], judge)
    functions = {function["identifier"] for function in config.resources.scoring_functions}
    datasets = {dataset["identifier"] for dataset in config.resources.datasets}
    for benchmark in config.resources.benchmarks:
        assert benchmark["dataset_id"] in datasets
        assert set(benchmark["scoring_functions"]) <= functions


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_their_provider_configs_build(name: str, tmp_path: Path) -> None:
    config = load(name, tmp_path)
    stores = VectorStores.from_config(config.service("vector_io").providers, config)
    assert isinstance(stores.get("qdrant"), EdgeVectorStore)
    ShieldProviders.from_config(config.service("safety").providers, config).get("llama-guard")
    ToolRuntimeProviders.from_config(config.service("tool_runtime").providers, config).rag()


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_telemetry_and_metrics_settings_match_local_cpu(name: str, tmp_path: Path) -> None:
    config, local = load(name, tmp_path), load("local-cpu", tmp_path)
    assert config.telemetry.exporter == local.telemetry.exporter == "otlp"
    assert config.telemetry.otlp_endpoint == config.service("telemetry").address
    assert config.telemetry.metrics_exporter == local.telemetry.metrics_exporter == "none"
    assert config.gateway.metrics_address.endswith(":9051")
    for service in config.services:
        assert service.metrics_address == local.service(service.name).metrics_address


@pytest.mark.parametrize("name", ["vllm-cpu", "gpu-vllm"])
def test_vllm_settings_are_explicit(name: str, tmp_path: Path) -> None:
    from services.inference.providers import VllmConfig

    vllm = next(p for p in load(name, tmp_path).service("inference").providers if p.provider_type == "inline::vllm")
    settings = VllmConfig.model_validate(vllm.config)
    assert settings.enable_prefix_caching is True
    assert "enable_prefix_caching" in vllm.config
    if name == "gpu-vllm":  # the GPU settings, with their documented defaults
        assert (settings.tensor_parallel_size, settings.gpu_memory_utilization) == (1, 0.9)
        assert (settings.max_model_len, settings.max_num_seqs, settings.enforce_eager) == (8192, 256, False)
