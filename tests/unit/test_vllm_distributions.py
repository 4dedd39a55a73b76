"""vllm-cpu and gpu-vllm serve vector_io, safety and tool_runtime like local-cpu: the same provider types, resources
that name models the distribution registers, and provider configs that every service accepts (built, not started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llama_mesh.runtime.config import RunConfig, load_run_config
from services.safety.providers import ShieldProviders
from services.tool_runtime.providers import ToolRuntimeProviders
from services.vector_io.providers import VectorStores
from services.vector_io.providers.qdrant_edge import EdgeVectorStore

ROOT = Path(__file__).resolve().parents[2]
APIS = ("vector_io", "safety", "tool_runtime")


def load(name: str, tmp_path: Path) -> RunConfig:
    return load_run_config(ROOT / "distributions" / name / "run.yaml", {"LLAMA_MESH_DATA_DIR": str(tmp_path)})


def provider_types(config: RunConfig, api: str) -> dict[str, str]:
    return {p.provider_id: p.provider_type for p in config.service(api).providers}


@pytest.mark.parametrize("name", ["vllm-cpu", "gpu-vllm"])
def test_vllm_distributions_serve_the_same_apis_as_local_cpu(name: str, tmp_path: Path) -> None:
    config, local = load(name, tmp_path), load("local-cpu", tmp_path)
    for api in APIS:
        assert provider_types(config, api) == provider_types(local, api)
    assert config.resources.tool_groups == local.resources.tool_groups
    assert config.resources.shields == local.resources.shields

    models = {m["identifier"]: m for m in config.resources.models}
    embedding = models["all-MiniLM-L6-v2"]
    assert embedding["model_type"] == "MODEL_TYPE_EMBEDDING"
    assert embedding["provider_id"] in provider_types(config, "inference")
    guard = next(p for p in config.service("safety").providers if p.provider_type == "inline::llama-guard")
    assert models[guard.config["model"]]["model_type"] == "MODEL_TYPE_LLM"


@pytest.mark.parametrize("name", ["vllm-cpu", "gpu-vllm"])
def test_their_provider_configs_build(name: str, tmp_path: Path) -> None:
    config = load(name, tmp_path)
    stores = VectorStores.from_config(config.service("vector_io").providers, config)
    assert isinstance(stores.get("qdrant"), EdgeVectorStore)
    ShieldProviders.from_config(config.service("safety").providers, config).get("llama-guard")
    ToolRuntimeProviders.from_config(config.service("tool_runtime").providers, config).rag()


@pytest.mark.parametrize("name", ["vllm-cpu", "gpu-vllm"])
def test_metrics_settings_match_local_cpu(name: str, tmp_path: Path) -> None:
    config, local = load(name, tmp_path), load("local-cpu", tmp_path)
    assert config.telemetry.metrics_exporter == local.telemetry.metrics_exporter == "none"
    assert config.gateway.metrics_address.endswith(":9051")
    for service in config.services:
        assert service.metrics_address == local.service(service.name).metrics_address
