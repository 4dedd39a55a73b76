"""`llama-mesh post-training sft|dpo|jobs|status|cancel|artifacts`: fine-tune models as jobs and read them.

    llama-mesh post-training sft smollm2-135m-instruct my-dataset --lora-rank 8 --epochs 3 --follow \\
        --register-as my-model
"""

from __future__ import annotations

import time
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from llama.common.v1 import jobs_pb2
from llama.post_training.v1 import post_training_pb2 as pb
from llama_mesh.cli.output import compact_json, print_json, stderr, stdout, table
from llama_mesh.cli.state import get_state, json_option
from llama_mesh.client.conversions import to_dict
from llama_mesh.client.post_training import (
    DATA_FORMATS,
    DPO_LOSSES,
    FINAL_STATES,
    OPTIMIZERS,
    PostTraining,
    lora_config,
    training_config,
)


def _post_training() -> PostTraining:
    return get_state().client().post_training


def _status(job: pb.TrainingJob) -> str:
    return jobs_pb2.JobStatus.Name(job.job.status).removeprefix("JOB_STATUS_").lower()


def _training_options(command: Any) -> Any:
    options = [
        click.option("--epochs", "n_epochs", type=click.IntRange(min=1), default=1, show_default=True),
        click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True),
        click.option("--lr", type=float, default=1e-4, show_default=True, help="Learning rate (> 0)."),
        click.option("--optimizer", type=click.Choice(sorted(OPTIMIZERS)), default="adamw", show_default=True),
        click.option("--weight-decay", type=float, default=0.0, show_default=True),
        click.option("--warmup-steps", type=click.IntRange(min=0), default=0, show_default=True),
        click.option("--max-steps-per-epoch", type=click.IntRange(min=1)),
        click.option("--gradient-accumulation-steps", type=click.IntRange(min=1)),
        click.option("--validation-dataset", "validation_dataset_id", default=""),
        click.option("--dtype", type=click.Choice(["bf16", "fp16", "fp32"]), help="Default bf16 (fp32 on CPU)."),
        click.option("--job-id", default="", help="Choose the job's id (default: assigned)."),
        click.option("--checkpoint-dir", default="", help="A subdirectory of the checkpoint root."),
        click.option("--follow", is_flag=True, help="Show a progress bar until the job ends."),
        click.option("--register-as", help="With --follow: register the checkpoint as this model."),
        click.option("--provider-id", default="llama-cpp", show_default=True, help="Serves --register-as."),
        click.option("--poll-interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True),
        json_option,
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group(name="post-training", help="Fine-tune models (LoRA, full, DPO) as jobs; serve checkpoints as models.")
def post_training_group() -> None:
    pass


@post_training_group.command(help="Supervised fine-tuning of MODEL (a registered LLM or a checkpoint) on DATASET.")
@click.argument("model")
@click.argument("dataset_id")
@click.option("--format", "data_format", type=click.Choice(sorted(DATA_FORMATS)), default="instruct", show_default=True)
@click.option("--lora-rank", type=click.IntRange(min=1), help="LoRA rank; without it: full fine-tuning.")
@click.option("--lora-alpha", type=click.IntRange(min=1), help="Default: twice the rank.")
@click.option(
    "--lora-modules", default="q_proj,v_proj", show_default=True, help="Among q_proj,k_proj,v_proj,output_proj."
)
@click.option("--lora-mlp", is_flag=True, help="Also adapt the MLP projections.")
@_training_options
def sft(model: str, dataset_id: str, lora_rank: int | None, lora_alpha: int | None, lora_modules: str,
        lora_mlp: bool, **options: Any) -> None:  # fmt: skip
    config, run = _split(dataset_id, options)
    lora = lora_config(lora_rank, lora_alpha, lora_modules.split(","), mlp=lora_mlp) if lora_rank else None
    job = _post_training().supervised_fine_tune(model, config, lora, job_id=run["job_id"],
                                                checkpoint_dir=run["checkpoint_dir"])  # fmt: skip
    _started(job, run)


@post_training_group.command(
    help="DPO of MODEL (a registered LLM or a checkpoint) on DATASET's prompt/chosen/rejected."
)
@click.argument("model")
@click.argument("dataset_id")
@click.option("--beta", type=float, default=0.1, show_default=True)
@click.option("--loss", type=click.Choice(sorted(DPO_LOSSES)), default="sigmoid", show_default=True)
@_training_options
def dpo(model: str, dataset_id: str, beta: float, loss: str, **options: Any) -> None:
    config, run = _split(dataset_id, options)
    job = _post_training().preference_optimize(model, config, beta=beta, loss=loss, job_id=run["job_id"],
                                               checkpoint_dir=run["checkpoint_dir"])  # fmt: skip
    _started(job, run)


_RUN_KEYS = ("job_id", "checkpoint_dir", "follow", "register_as", "provider_id", "poll_interval")


def _split(dataset_id: str, options: dict[str, Any]) -> tuple[pb.TrainingConfig, dict[str, Any]]:
    run = {key: options.pop(key) for key in _RUN_KEYS}
    options["dtype"] = options["dtype"] or ""
    return training_config(dataset_id, **options), run


def _started(job: pb.TrainingJob, run: dict[str, Any]) -> None:
    if not run["follow"]:
        _show(job)
        return
    job = _follow(job, run["poll_interval"])
    if job.job.status != jobs_pb2.JOB_STATUS_COMPLETED:
        _show(job)
        raise SystemExit(1)
    checkpoint = job.checkpoints[-1]
    if run["register_as"]:
        get_state().client().models.register(run["register_as"], run["provider_id"], checkpoint.identifier)
        stderr.print(f"registered {run['register_as']} (checkpoint {checkpoint.identifier})", style="dim",
                     markup=False)  # fmt: skip
    if get_state().json:
        print_json(job)
    else:
        stdout.print(f"{job.job.job_id} completed; checkpoint {checkpoint.identifier} at {checkpoint.path}",
                     markup=False)  # fmt: skip


def _follow(job: pb.TrainingJob, poll_interval: float) -> pb.TrainingJob:
    """Poll the job until it ends, with a progress bar (steps, loss, ETA) on stderr; Ctrl-C cancels it."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[state]}"),
        TimeElapsedColumn(),
    )
    client = _post_training()
    try:
        with Progress(*columns, console=stderr, transient=False) as progress:
            bar = progress.add_task(job.job.job_id, total=None, state="queued")
            while True:
                metadata = dict(job.job.metadata.items())
                state = _status(job)
                if "train_loss" in metadata:
                    state += f" loss {metadata['train_loss']:.4f}"
                if metadata.get("eta_s") is not None and job.job.status == jobs_pb2.JOB_STATUS_RUNNING:
                    state += f" eta {metadata['eta_s']:.0f}s"
                progress.update(bar, total=job.job.progress.total or None, completed=job.job.progress.done,
                                state=state)  # fmt: skip
                if job.job.status in FINAL_STATES:
                    return job
                time.sleep(poll_interval)
                job = client.get_job(job.job.job_id)
    except KeyboardInterrupt:
        client.cancel_job(job.job.job_id)
        stderr.print(f"cancelled {job.job.job_id}", style="dim", markup=False)
        raise


def _show(job: pb.TrainingJob) -> None:
    if get_state().json:
        print_json(job)
        return
    rows = [
        ["job_id", job.job.job_id],
        ["type", pb.TrainingJobType.Name(job.type).removeprefix("TRAINING_JOB_TYPE_").lower()],
        ["model", job.model],
        ["status", _status(job)],
        ["progress", f"{job.job.progress.done}/{job.job.progress.total} {job.job.progress.unit}"],
    ]
    if job.job.HasField("error"):
        rows.append(["error", f"{job.job.error.reason}: {job.job.error.message}"])
    details = to_dict(job.job)
    rows += [[key, compact_json(value)] for key, value in details.items() if key.endswith("_time") or key == "metadata"]
    rows += [["checkpoint", f"{c.identifier} ({c.path})"] for c in job.checkpoints]
    table(["field", "value"], rows)


@post_training_group.command(help="List training jobs, newest first.")
@json_option
def jobs() -> None:
    found = _post_training().list_jobs()
    if get_state().json:
        print_json(found)
        return
    table(
        ["job_id", "type", "model", "status", "progress", "created"],
        [
            [
                job.job.job_id,
                pb.TrainingJobType.Name(job.type).removeprefix("TRAINING_JOB_TYPE_").lower(),
                job.model,
                _status(job),
                f"{job.job.progress.done}/{job.job.progress.total}",
                job.job.create_time.ToDatetime().isoformat(timespec="seconds"),
            ]
            for job in found
        ],
    )


@post_training_group.command(help="Show a training job: status, progress, losses, ETA, checkpoints.")
@click.argument("job_id")
@click.option("--follow", is_flag=True, help="Show a progress bar until the job ends.")
@json_option
def status(job_id: str, follow: bool) -> None:
    job = _post_training().get_job(job_id)
    _show(_follow(job, 1.0) if follow else job)


@post_training_group.command(help="Cancel a training job (its training process stops within seconds).")
@click.argument("job_id")
@json_option
def cancel(job_id: str) -> None:
    _show(_post_training().cancel_job(job_id))


@post_training_group.command(help="List a job's checkpoints (register one with `llama-mesh models register`).")
@click.argument("job_id")
@json_option
def artifacts(job_id: str) -> None:
    found = _post_training().artifacts(job_id)
    if get_state().json:
        print_json(found)
        return
    table(
        ["identifier", "epoch", "train_loss", "path"],
        [[c.identifier, c.epoch, f"{c.training_metrics.train_loss:.4f}", c.path] for c in found.checkpoints],
    )
