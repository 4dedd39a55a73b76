"""Which post-training checkpoints a vLLM provider takes as LoRA adapters when a model names one at run time, and the
errors for the others (no engine starts here: registering only reads the checkpoint; tests/mesh/
test_vllm_checkpoint_mesh.py serves one)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llama_mesh.runtime.config import ProviderConfig, load_run_config
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument, MeshError, NotFound
from services.inference.providers import PROVIDER_TYPES, InferenceProvider
from tests.inference.vllm_fixtures import fake_adapter, write_checkpoint

DISTRIBUTIONS = Path(__file__).resolve().parents[2] / "distributions"


@pytest.fixture
def base_gguf(tmp_path: Path) -> Path:
    path = tmp_path / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    path.parent.mkdir()
    path.write_bytes(b"GGUF")
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "data" / "post_training" / "checkpoints"


def vllm_provider(tmp_path: Path, base_gguf: Path, **settings: object) -> InferenceProvider:
    run = load_run_config(DISTRIBUTIONS / "vllm-cpu" / "run.yaml", {"LLAMA_MESH_DATA_DIR": str(tmp_path / "data")})
    config = {"preload": False, "models": {"smol": {"source": str(base_gguf)}}, **settings}
    return PROVIDER_TYPES["inline::vllm"](
        ProviderConfig(provider_id="vllm", provider_type="inline::vllm", config=config), run
    )


def refused(provider: InferenceProvider, name: str) -> MeshError:
    with pytest.raises(MeshError) as raised:
        provider.require_model(name)
    assert name not in provider.models
    return raised.value


async def test_a_lora_checkpoint_of_the_served_model_joins_it_and_leaves_on_release(tmp_path, base_gguf, root) -> None:
    directory = write_checkpoint(root, "sft-1", base_gguf, "smollm2", fake_adapter())
    provider = vllm_provider(tmp_path, base_gguf, enable_lora=True)
    provider.require_model("sft-1")
    entry = provider.models["sft-1"]
    assert entry.source == str((directory / "adapter").resolve())
    assert entry.model_extra == {"base_model": "smol"}
    await provider.release("sft-1")
    assert "sft-1" not in provider.models
    await provider.release("smol")  # a model of the configuration stays
    assert "smol" in provider.models
    provider.require_model(str(directory))  # an absolute path inside the root names it too
    assert str(directory) in provider.models


def test_a_checkpoint_of_another_model_names_both(tmp_path, base_gguf, root) -> None:
    other = tmp_path / "models" / "Qwen2-0.5B.gguf"
    other.write_bytes(b"GGUF")
    write_checkpoint(root, "sft-qwen", other, "qwen2-0.5b", fake_adapter())
    error = refused(vllm_provider(tmp_path, base_gguf, enable_lora=True), "sft-qwen")
    assert isinstance(error, FailedPrecondition) and error.reason == "CHECKPOINT_BASE_MISMATCH"
    assert "'qwen2-0.5b'" in error.message and "Qwen2-0.5B.gguf" in error.message
    assert "smol (SmolLM2-135M-Instruct.Q4_1.gguf)" in error.message
    assert error.metadata["checkpoint_base_model"] == "qwen2-0.5b"


def test_an_adapter_trained_on_a_checkpoint_adapts_that_checkpoint(tmp_path, base_gguf, root) -> None:
    write_checkpoint(root, "sft-1", base_gguf, "smollm2", fake_adapter())
    write_checkpoint(root, "sft-2", base_gguf, "sft-1", fake_adapter(), base_checkpoint=str(root / "sft-1"))
    error = refused(vllm_provider(tmp_path, base_gguf, enable_lora=True), "sft-2")
    assert error.reason == "CHECKPOINT_BASE_MISMATCH"
    assert "trained from checkpoint 'sft-1'" in error.message


def test_a_full_fine_tune_is_refused_with_what_serves_it(tmp_path, base_gguf, root) -> None:
    write_checkpoint(root, "dpo-1", base_gguf, "smollm2", None)
    error = refused(vllm_provider(tmp_path, base_gguf, enable_lora=True), "dpo-1")
    assert isinstance(error, FailedPrecondition) and error.reason == "CHECKPOINT_NOT_AN_ADAPTER"
    assert "llama-cpp provider" in error.message and "model/ directory" in error.message


def test_lora_off_and_a_rank_above_max_lora_rank_name_the_setting(tmp_path, base_gguf, root) -> None:
    write_checkpoint(root, "sft-1", base_gguf, "smollm2", fake_adapter(rank=32))
    error = refused(vllm_provider(tmp_path, base_gguf), "sft-1")
    assert error.reason == "ENGINE_SETTING_UNSATISFIABLE" and error.metadata["setting"] == "enable_lora"
    assert "LLAMA_MESH_VLLM_LORA=true" in error.message
    error = refused(vllm_provider(tmp_path, base_gguf, enable_lora=True), "sft-1")
    assert error.metadata["setting"] == "max_lora_rank" and "rank-32" in error.message
    vllm_provider(tmp_path, base_gguf, enable_lora=True, max_lora_rank=32).require_model("sft-1")


def test_names_and_links_that_leave_the_checkpoint_root_are_refused(tmp_path, base_gguf, root) -> None:
    outside = tmp_path / "outside"
    write_checkpoint(outside, "evil", base_gguf, "smollm2", fake_adapter())
    linked = write_checkpoint(root, "linked-adapter", base_gguf, "smollm2", None)
    os.rename(linked / "model", tmp_path / "unused")
    (linked / "adapter").symlink_to(outside / "evil" / "adapter")
    linked_file = write_checkpoint(root, "linked-file", base_gguf, "smollm2", fake_adapter())
    (linked_file / "adapter" / "adapter_model.safetensors").unlink()
    (linked_file / "adapter" / "adapter_model.safetensors").symlink_to("/etc/passwd")
    (root / "escape").symlink_to(outside / "evil")
    provider = vllm_provider(tmp_path, base_gguf, enable_lora=True)
    for name in ("../../outside/evil", str(outside / "evil"), "escape", "/etc", "", "linked-adapter", "linked-file"):
        error = refused(provider, name)
        assert isinstance(error, InvalidArgument), (name, error)
        assert (error.reason, error.field) == ("NOT_A_CHECKPOINT", "model.provider_resource_id")
    error = refused(provider, "missing")  # inside the root, but no checkpoint there
    assert isinstance(error, NotFound) and error.reason == "PROVIDER_MODEL_NOT_FOUND"
