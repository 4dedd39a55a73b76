"""`make gpu-check`'s post-training part (tools/gpu_training_check.py) on this machine: the training process, run as the
service runs it, trains on the device torch sees (here the CPU in fp32; on an NVIDIA GPU, CUDA in bf16), the loss
falls and the checkpoint is complete; a job that fails makes the check fail."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from llama_mesh.launcher import REPO_ROOT
from tools.gpu_training_check import expected_device


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tools.gpu_training_check", *args]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False)


def test_lora_sft_and_dpo_train_on_this_device_and_checkpoint(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    done = _check("--steps", "3", "--jobs", "sft-lora,dpo", "--json", str(results))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]

    jobs = json.loads(results.read_text())["jobs"]
    assert [job["name"] for job in jobs] == ["sft-lora", "dpo"]
    for job in jobs:
        assert job["failures"] == []
        assert (job["device"], job["dtype"]) == expected_device()
        assert job["steps"] == 3 and job["final_loss"] < job["first_loss"]
    assert jobs[0]["validation_loss"] is not None


def test_a_job_that_fails_fails_the_check(tmp_path: Path) -> None:
    not_a_model = tmp_path / "model.gguf"
    not_a_model.write_bytes(b"GGUF but not really")
    done = _check("--steps", "3", "--jobs", "sft-full", "--base-gguf", str(not_a_model), "--cache-dir", str(tmp_path))
    assert done.returncode == 1
    assert "sft-full" in done.stdout and "FAILED: exit status 1: ModelConversionError: " in done.stdout


def test_its_job_specs_carry_the_settings_the_provider_writes() -> None:
    """The check writes specs itself (no mesh, no gateway): their settings must stay those the provider derives."""
    from llama.post_training.v1 import post_training_pb2 as pb
    from services.post_training.config import HuggingFacePostTrainingConfig
    from services.post_training.providers.huggingface import _lora_settings, _training_settings
    from tools.gpu_training_check import LORA, _training

    config = pb.TrainingConfig(
        n_epochs=3,
        max_steps_per_epoch=1,
        data_config=pb.DataConfig(dataset_id="rows", batch_size=4, data_format=pb.DATASET_FORMAT_INSTRUCT),
        optimizer_config=pb.OptimizerConfig(optimizer_type=pb.OPTIMIZER_TYPE_ADAMW, lr=1e-4),
    )
    provider_settings = _training_settings(config, HuggingFacePostTrainingConfig(), sft=True)
    assert _training(3, 1e-4).keys() == provider_settings.keys()
    lora = pb.AlgorithmConfig(lora=pb.LoraFinetuningConfig(lora_attn_modules=["q_proj"], rank=8, alpha=16))
    assert LORA.keys() == (_lora_settings(lora) or {}).keys()
