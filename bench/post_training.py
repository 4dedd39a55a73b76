"""Fine-tuning on this machine through the mesh: LoRA vs full fine-tuning of SmolLM2-135M, and what the service adds.

Starts gateway + inference + datasetio + post_training of the local-cpu distribution on free loopback ports, registers
a small instruct dataset (inline rows), and runs the same supervised fine-tuning job twice, with LoRA and without.
Per job:
  - seconds per optimizer step and training tokens per second (the trainer's own time, from the checkpoint's
    metrics);
  - job latency (the job's create time to its end time) and the service's overhead = latency - trainer time (reading
    the rows through the gateway, starting the training process, loading and converting the model, writing the
    checkpoint and its GGUF).

    python -m bench.post_training --steps 8 [--json out.json]
"""

from __future__ import annotations

import argparse
import time

import grpc
from google.protobuf import struct_pb2

from bench._common import MODEL_ID, log, print_table, ratio, running_mesh, temp_root, write_json
from llama.common.v1 import jobs_pb2, resources_pb2
from llama.post_training.v1 import post_training_pb2 as pb
from llama.post_training.v1 import post_training_pb2_grpc
from llama.registry.v1 import registry_pb2, registry_pb2_grpc

FINAL = (jobs_pb2.JOB_STATUS_COMPLETED, jobs_pb2.JOB_STATUS_FAILED, jobs_pb2.JOB_STATUS_CANCELLED)
ROWS = [
    {"input_query": f"What is {a} plus {b}?", "expected_answer": f"{a} plus {b} is {a + b}."}
    for a in range(1, 5)
    for b in range(1, 5)
]


def _dataset(registry: registry_pb2_grpc.RegistryServiceStub) -> None:
    rows = []
    for row in ROWS:
        item = struct_pb2.Struct()
        item.update(row)
        rows.append(item)
    dataset = resources_pb2.Dataset(
        identifier="bench-sums",
        provider_id="localfs",
        source=resources_pb2.DataSource(rows=resources_pb2.RowsSource(rows=rows)),
    )
    registry.RegisterDataset(registry_pb2.RegisterDatasetRequest(dataset=dataset), timeout=60)


def _run(training: post_training_pb2_grpc.PostTrainingServiceStub, lora: bool, steps: int, batch: int) -> dict:
    request = pb.SupervisedFineTuneRequest(
        model=MODEL_ID,
        training_config=pb.TrainingConfig(
            n_epochs=1,
            max_steps_per_epoch=steps,
            data_config=pb.DataConfig(
                dataset_id="bench-sums", batch_size=batch, data_format=pb.DATASET_FORMAT_INSTRUCT
            ),
            optimizer_config=pb.OptimizerConfig(optimizer_type=pb.OPTIMIZER_TYPE_ADAMW, lr=1e-4 if lora else 1e-5),
        ),
    )
    if lora:
        request.algorithm_config.lora.CopyFrom(
            pb.LoraFinetuningConfig(lora_attn_modules=["q_proj", "v_proj"], rank=8, alpha=16)
        )
    job = training.SupervisedFineTune(request, timeout=120)
    while job.job.status not in FINAL:
        time.sleep(0.5)
        job = training.GetTrainingJob(pb.GetTrainingJobRequest(job_id=job.job.job_id), timeout=30)
    if job.job.status != jobs_pb2.JOB_STATUS_COMPLETED:
        raise RuntimeError(f"job {job.job.job_id} ended {job.job.status}: {job.job.error.message}")
    checkpoint = training.GetTrainingJobArtifacts(
        pb.GetTrainingJobArtifactsRequest(job_id=job.job.job_id), timeout=30
    ).checkpoints[0]
    metadata = dict(job.job.metadata.items())
    latency = (job.job.end_time.ToNanoseconds() - job.job.create_time.ToNanoseconds()) / 1e9
    train_seconds = float(metadata["elapsed_s"])
    return {
        "mode": "lora" if lora else "full",
        "steps": int(job.job.progress.done),
        "seconds_per_step": train_seconds / max(int(job.job.progress.done), 1),
        "tokens_per_second": float(metadata.get("tokens", 0)) / train_seconds if train_seconds else 0.0,
        "train_loss": checkpoint.training_metrics.train_loss,
        "job_latency_s": latency,
        "service_overhead_s": latency - train_seconds,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=8, help="Optimizer steps per job.")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--json", help="Write the results to this file.")
    args = parser.parse_args(argv)
    with (
        temp_root("post-training") as root,
        running_mesh("local-cpu", root, also=("datasetio", "post_training")) as mesh,
        grpc.insecure_channel(mesh.gateway_address) as channel,
    ):
        _dataset(registry_pb2_grpc.RegistryServiceStub(channel))
        training = post_training_pb2_grpc.PostTrainingServiceStub(channel)
        results = []
        for lora in (True, False):
            log(f"training with {'LoRA' if lora else 'full fine-tuning'}, {args.steps} steps")
            results.append(_run(training, lora, args.steps, args.batch_size))
    lora, full = results
    print_table(
        f"SFT of {MODEL_ID}, {args.steps} steps of batch {args.batch_size}",
        ["mode", "s/step", "tokens/s", "job latency s", "service overhead s"],
        [
            [r["mode"], f"{r['seconds_per_step']:.2f}", f"{r['tokens_per_second']:.1f}", f"{r['job_latency_s']:.1f}",
             f"{r['service_overhead_s']:.1f}"]
            for r in results
        ],
    )  # fmt: skip
    log(f"LoRA step time is {ratio(lora['seconds_per_step'], full['seconds_per_step']):.2f}x full fine-tuning's")
    if args.json:
        write_json(args.json, {"post_training": results})


if __name__ == "__main__":
    main()
