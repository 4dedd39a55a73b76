"""One training job, in its own process: `python -m services.post_training.training_run <spec.json> <parent pid>`.

The service writes the job's spec (what to train, on which rows, with which settings) and starts this process; it
reports on stdout, one JSON object a line: `{"event": "progress", ...}` after each optimizer step and evaluation,
`{"event": "checkpoint", ...}` once the checkpoint is complete, `{"event": "error", ...}` before a failed exit. It
dies with the service (PR_SET_PDEATHSIG), and a SIGTERM or SIGKILL from the service is its cancel.

The checkpoint is built in a work directory beside its final place and renamed into it at the end, so a checkpoint
directory exists only when complete (see llama_mesh/checkpoints.py for the layout).
"""

from __future__ import annotations

import copy
import ctypes
import json
import math
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from llama_mesh import checkpoints
from llama_mesh.runtime.errors import without_paths

LORA_MODULES = {"q_proj": "q_proj", "k_proj": "k_proj", "v_proj": "v_proj", "output_proj": "o_proj"}
MLP_MODULES = ("gate_proj", "up_proj", "down_proj")
OPTIMIZERS = {"adam": "adamw_torch", "adamw": "adamw_torch", "sgd": "sgd"}


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the service died before the line above ran
        sys.exit(1)


def _load_weights(checkpoint: str | None, base_dir: str) -> Any:
    """The weights of a checkpoint (fp32): its HF model, or its adapter merged into the weights it was trained from
    (its own base checkpoint's, or the converted base model's)."""
    import torch
    from transformers import AutoModelForCausalLM

    directory = Path(checkpoint) if checkpoint else None
    if directory is not None and (directory / checkpoints.HF_MODEL_DIR).is_dir():
        return AutoModelForCausalLM.from_pretrained(str(directory / checkpoints.HF_MODEL_DIR), dtype=torch.float32)
    if directory is None:
        return AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    from peft import PeftModel

    model = _load_weights(checkpoints.read_manifest(directory).get("base_checkpoint"), base_dir)
    return PeftModel.from_pretrained(model, str(directory / checkpoints.ADAPTER_DIR)).merge_and_unload()


def _load_base(spec: dict[str, Any]) -> tuple[Any, Any]:
    """The model to train and its tokenizer: a base model's HF directory (converted from its GGUF once, into the
    cache) or a checkpoint's weights."""
    from transformers import AutoTokenizer

    from llama_mesh.model_conversion import ensure_hf_model_from_gguf

    base_dir = ensure_hf_model_from_gguf(spec["base_gguf"], spec["conversion_cache"])
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return _load_weights(spec.get("base_checkpoint"), base_dir), tokenizer


def _read_rows(path: str | None) -> list[dict[str, Any]]:
    if not path:
        return []
    with open(path) as stream:
        return [json.loads(line) for line in stream if line.strip()]


def _device_and_dtype(requested: str) -> tuple[str, str]:
    import torch

    if torch.cuda.is_available():
        if requested in ("", "bf16") and torch.cuda.is_bf16_supported():
            return "cuda", "bf16"
        return "cuda", "fp16" if requested == "fp16" else "fp32"
    return "cpu", "fp32"  # CPU training runs in fp32: bf16/fp16 autocast there is slower and less exact


class _Progress:
    """A transformers TrainerCallback (built in `_callback`) that reports each step and evaluation."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.train_loss: float | None = None
        self.validation_loss: float | None = None
        self.tokens = 0


def _callback(progress: _Progress) -> Any:
    from transformers import TrainerCallback

    class Report(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **_: Any) -> None:
            # The Trainer logs every step (logging_steps 1) after the step's on_step_end: reporting here, not there,
            # gives each step's report that step's loss (and the last step's loss reaches the service at all).
            logs = logs or {}
            if "loss" in logs:
                progress.train_loss = float(logs["loss"])
            if "eval_loss" in logs:
                progress.validation_loss = float(logs["eval_loss"])
            if "loss" in logs or "eval_loss" in logs:
                self._report(state)

        def _report(self, state: Any) -> None:
            elapsed = time.monotonic() - progress.started
            done, total = int(state.global_step), int(state.max_steps)
            eta = elapsed / done * (total - done) if done else None
            tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
            emit(
                "progress",
                step=done,
                total=total,
                epoch=float(state.epoch or 0.0),
                train_loss=progress.train_loss,
                validation_loss=progress.validation_loss,
                eta_s=eta,
                elapsed_s=elapsed,
                tokens=tokens,
            )

    return Report()


def _steps(spec: dict[str, Any], rows: int) -> tuple[int, int]:
    training = spec["training"]
    per_step = training["batch_size"] * training["gradient_accumulation_steps"]
    per_epoch = max(1, math.ceil(rows / per_step))
    if training.get("max_steps_per_epoch"):
        per_epoch = min(per_epoch, training["max_steps_per_epoch"])
    return per_epoch * training["n_epochs"], per_epoch


def _common_args(spec: dict[str, Any], work: Path, rows: int, has_validation: bool, dtype: str) -> dict[str, Any]:
    training = spec["training"]
    total, per_epoch = _steps(spec, rows)
    args: dict[str, Any] = {
        "output_dir": str(work / "trainer"),
        "per_device_train_batch_size": training["batch_size"],
        "per_device_eval_batch_size": training["batch_size"],
        "gradient_accumulation_steps": training["gradient_accumulation_steps"],
        "max_steps": total,
        "learning_rate": training["lr"],
        "weight_decay": training["weight_decay"],
        "warmup_steps": training["warmup_steps"],
        "lr_scheduler_type": "linear" if training["warmup_steps"] else "constant",
        "optim": OPTIMIZERS[training["optimizer"]],
        "bf16": dtype == "bf16",
        "fp16": dtype == "fp16",
        "gradient_checkpointing": training["gradient_checkpointing"],
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": [],
        "disable_tqdm": True,
        "seed": training.get("seed", 0),
        "dataloader_num_workers": 0,
        "max_length": training["max_seq_length"],
        "include_num_input_tokens_seen": "all",
    }
    if has_validation:
        args.update({"eval_strategy": "steps", "eval_steps": per_epoch})
    return args


def _lora_config(lora: dict[str, Any]) -> Any:
    from peft import LoraConfig

    targets = [LORA_MODULES[name] for name in lora["attn_modules"]]
    if lora["mlp"]:
        targets += MLP_MODULES
    if lora["output"]:
        targets.append("lm_head")
    return LoraConfig(
        r=lora["rank"],
        lora_alpha=lora["alpha"],
        target_modules=targets,
        lora_dropout=0.0,
        use_dora=lora["dora"],
        task_type="CAUSAL_LM",
    )


def train(spec: dict[str, Any]) -> None:
    from datasets import Dataset

    work = Path(spec["work_dir"])
    final = Path(spec["checkpoint_path"])
    device, dtype = _device_and_dtype(spec["training"]["dtype"])
    model, tokenizer = _load_base(spec)
    emit("started", device=device, dtype=dtype)  # the model is loaded (and converted once, for the first job)
    train_rows = _read_rows(spec["rows_path"])
    validation_rows = _read_rows(spec.get("validation_rows_path"))
    if validation_rows:
        limit = spec["training"]["max_validation_steps"] * spec["training"]["batch_size"]
        validation_rows = validation_rows[:limit]
    train_set = Dataset.from_list(train_rows)
    validation_set = Dataset.from_list(validation_rows) if validation_rows else None
    args = _common_args(spec, work, len(train_rows), validation_set is not None, dtype)
    if device == "cpu":
        args["use_cpu"] = True
    progress = _Progress()
    lora = spec.get("lora")
    if spec["kind"] == "sft":
        from trl import SFTConfig, SFTTrainer

        config = SFTConfig(
            **args,
            packing=spec["training"]["packed"],
            completion_only_loss=not spec["training"]["train_on_input"],
        )
        trainer = SFTTrainer(
            model=model,
            args=config,
            train_dataset=train_set,
            eval_dataset=validation_set,
            processing_class=tokenizer,
            peft_config=_lora_config(lora) if lora else None,
            callbacks=[_callback(progress)],
        )
    else:
        from trl import DPOConfig, DPOTrainer

        config = DPOConfig(**args, beta=spec["dpo"]["beta"], loss_type=[spec["dpo"]["loss_type"]])
        trainer = DPOTrainer(
            model=model,
            # the reference is the model as it starts (TRL would reload it from its config's path, which for a
            # checkpoint trained with LoRA is the base model's)
            ref_model=copy.deepcopy(model),
            args=config,
            train_dataset=train_set,
            eval_dataset=validation_set,
            processing_class=tokenizer,
            callbacks=[_callback(progress)],
        )
    started = time.monotonic()
    result = trainer.train()
    train_seconds = time.monotonic() - started
    metrics = {
        "train_loss": float(result.training_loss),
        "validation_loss": progress.validation_loss,
        "steps": int(trainer.state.global_step),
        "epochs": float(trainer.state.epoch or 0.0),
        "train_seconds": train_seconds,
        "seconds_per_step": train_seconds / max(int(trainer.state.global_step), 1),
        "tokens": int(getattr(trainer.state, "num_input_tokens_seen", 0) or 0),
    }
    if validation_set is not None and progress.validation_loss is None:
        metrics["validation_loss"] = float(trainer.evaluate()["eval_loss"])
    _save(spec, trainer, tokenizer, work, final, metrics, device, dtype)


def _save(
    spec: dict[str, Any],
    trainer: Any,
    tokenizer: Any,
    work: Path,
    final: Path,
    metrics: dict[str, Any],
    device: str,
    dtype: str,
) -> None:
    from llama_mesh.gguf_export import export_gguf

    model = trainer.model
    building = work / "checkpoint"
    building.mkdir(parents=True, exist_ok=True)
    if spec.get("lora"):
        model.save_pretrained(str(building / checkpoints.ADAPTER_DIR))
        merged = model.merge_and_unload()
    else:
        merged = model
        merged.save_pretrained(str(building / checkpoints.HF_MODEL_DIR), safe_serialization=True)
        tokenizer.save_pretrained(str(building / checkpoints.HF_MODEL_DIR))
    export_gguf(merged.state_dict(), spec["base_gguf"], building / checkpoints.GGUF_FILE)
    epoch = max(int(math.ceil(metrics["epochs"])) - 1, 0)
    manifest = {
        "identifier": spec["checkpoint_id"],
        "job_id": spec["job_id"],
        checkpoints.OWNER_KEY: spec.get("owner", ""),
        "kind": spec["kind"],
        "base_model": spec["model"],
        "base_gguf": spec["base_gguf"],
        "base_checkpoint": spec.get("base_checkpoint"),
        "epoch": epoch,
        "created": time.time(),
        "metrics": metrics,
        "device": device,
        "dtype": dtype,
        "config": spec["training"],
        "lora": spec.get("lora"),
        "dpo": spec.get("dpo"),
    }
    (building / checkpoints.MANIFEST).write_text(json.dumps(manifest, indent=2))
    final.parent.mkdir(parents=True, exist_ok=True)
    os.rename(building, final)
    emit(
        "checkpoint",
        identifier=spec["checkpoint_id"],
        job_id=spec["job_id"],
        path=str(final),
        epoch=epoch,
        created=manifest["created"],
        metrics=metrics,
    )


def main() -> None:
    spec_path, parent = sys.argv[1], int(sys.argv[2])
    _die_with_parent(parent)
    spec = json.loads(Path(spec_path).read_text())
    try:
        train(spec)
    except Exception as exc:  # reported to the service, which records the job FAILED with this message
        emit("error", message=f"{type(exc).__name__}: {without_paths(str(exc))}")  # callers see it: no paths
        raise
    finally:
        shutil.rmtree(Path(spec["work_dir"]) / "trainer", ignore_errors=True)


if __name__ == "__main__":
    main()
