"""Checks the post-training service makes before a job starts (settings, rows, checkpoint names) and its job store's
restart rule, without a model."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from google.protobuf import struct_pb2

from llama.common.v1 import jobs_pb2
from llama.datasetio.v1 import datasetio_pb2, datasetio_pb2_grpc
from llama.post_training.v1 import post_training_pb2 as pb
from llama.registry.v1 import registry_pb2_grpc
from llama_mesh import checkpoints
from llama_mesh.runtime.caller import Principal, acting_for
from llama_mesh.runtime.config import load_run_config
from llama_mesh.runtime.errors import InvalidArgument, NotFound, Unimplemented
from services.post_training.config import HuggingFacePostTrainingConfig
from services.post_training.job_store import JobFailure, JobRecord, JobStore
from services.post_training.providers.huggingface import _lora_settings, _training_settings, huggingface, job_message
from services.post_training.training_rows import training_rows
from tests.fast.harness import serving

ROOT = Path(__file__).resolve().parents[2]


def _config(**changes: object) -> pb.TrainingConfig:
    config = pb.TrainingConfig(
        n_epochs=1,
        data_config=pb.DataConfig(dataset_id="d", batch_size=1, data_format=pb.DATASET_FORMAT_INSTRUCT),
        optimizer_config=pb.OptimizerConfig(optimizer_type=pb.OPTIMIZER_TYPE_ADAMW, lr=1e-4),
    )
    for path, value in changes.items():
        target = config
        *parents, name = path.split("__")
        for parent in parents:
            target = getattr(target, parent)
        setattr(target, name, value)
    return config


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"optimizer_config__lr": -1e-4}, "training_config.optimizer_config.lr"),
        ({"optimizer_config__lr": float("nan")}, "training_config.optimizer_config.lr"),
        ({"n_epochs": 0}, "training_config.n_epochs"),
        ({"data_config__batch_size": 0}, "training_config.data_config.batch_size"),
        ({"data_config__data_format": 0}, "training_config.data_config.data_format"),
        ({"gradient_accumulation_steps": 0}, "training_config.gradient_accumulation_steps"),
        ({"dtype": "int4"}, "training_config.dtype"),
    ],
)
def test_bad_training_settings_name_their_field(change: dict, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        _training_settings(_config(**change), HuggingFacePostTrainingConfig(), sft=True)
    assert caught.value.field == field


def test_lora_settings() -> None:
    lora = pb.AlgorithmConfig(lora=pb.LoraFinetuningConfig(lora_attn_modules=["q_proj"], rank=0, alpha=8))
    with pytest.raises(InvalidArgument, match="rank"):
        _lora_settings(lora)
    lora.lora.rank, lora.lora.lora_attn_modules[0] = 4, "attn"
    with pytest.raises(InvalidArgument, match="unknown module 'attn'"):
        _lora_settings(lora)
    lora.lora.lora_attn_modules[0] = "output_proj"
    assert _lora_settings(lora)["attn_modules"] == ["output_proj"]
    assert _lora_settings(pb.AlgorithmConfig()) is None  # full fine-tuning
    with pytest.raises(Unimplemented):
        _lora_settings(pb.AlgorithmConfig(qat=pb.QATFinetuningConfig(quantizer_name="int8")))


def test_rows_become_trl_rows_and_a_missing_column_names_dataset_row_and_column() -> None:
    rows = [
        {"input_query": "Hi?", "expected_answer": "Hello."},
        {"chat_completion_input": '[{"role": "user", "content": "Yo?"}]', "answer": "Hey."},
    ]
    converted = training_rows(rows, "greetings", "f", pb.DATASET_FORMAT_INSTRUCT)
    assert converted[0] == {
        "prompt": [{"role": "user", "content": "Hi?"}],
        "completion": [{"role": "assistant", "content": "Hello."}],
    }
    assert converted[1]["prompt"] == [{"role": "user", "content": "Yo?"}]
    with pytest.raises(InvalidArgument) as caught:
        training_rows([*rows, {"input_query": "no answer"}], "greetings", "f", pb.DATASET_FORMAT_INSTRUCT)
    assert "dataset 'greetings': row 2: column expected_answer or answer is missing" in caught.value.message
    assert caught.value.metadata["row"] == "2"
    with pytest.raises(InvalidArgument, match="row 0: column dialog does not end with an assistant"):
        training_rows([{"dialog": [{"role": "user", "content": "x"}]}], "d", "f", pb.DATASET_FORMAT_DIALOG)
    with pytest.raises(InvalidArgument, match="row 0: column rejected is missing"):
        training_rows([{"prompt": "p", "chosen": "c", "rejected": ""}], "d", "f", None)


def test_checkpoint_names_never_leave_the_root(tmp_path: Path) -> None:
    root = tmp_path / "checkpoints"
    good = root / "job-1"
    good.mkdir(parents=True)
    (good / checkpoints.MANIFEST).write_text("{}")
    (good / checkpoints.GGUF_FILE).write_bytes(b"GGUF")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / checkpoints.MANIFEST).write_text("{}")
    (outside / checkpoints.GGUF_FILE).write_bytes(b"GGUF")
    (root / "link").symlink_to(outside)
    assert checkpoints.find_checkpoint(root, "job-1", "f") == good.resolve()
    assert checkpoints.find_checkpoint(root, str(good), "f") == good.resolve()
    for name in ("/etc/passwd", "../outside", str(outside), "link", "job-1/../../outside", "", ".", "a\x00b"):
        with pytest.raises(InvalidArgument):
            checkpoints.find_checkpoint(root, name, "f")
    with pytest.raises(NotFound):
        checkpoints.find_checkpoint(root, "job-2", "f")


def test_jobs_left_running_read_failed_when_the_store_opens_again(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.db")
    for job_id in ("a", "b", "c"):
        assert store.insert(JobRecord(job_id=job_id, owner="", kind=1, model="m"))
    assert not store.insert(JobRecord(job_id="a", owner="", kind=1, model="m"))
    store.mark_running("a")
    store.finish("c", jobs_pb2.JOB_STATUS_COMPLETED)
    store.close()
    reopened = JobStore(tmp_path / "jobs.db")
    assert sorted(reopened.fail_unfinished(JobFailure(10, "SERVICE_RESTARTED", "gone"))) == ["a", "b"]
    assert reopened.get("a", "").status == jobs_pb2.JOB_STATUS_FAILED
    assert reopened.get("a", "").failure.reason == "SERVICE_RESTARTED"
    assert reopened.get("c", "").status == jobs_pb2.JOB_STATUS_COMPLETED
    assert reopened.get("a", "someone else") is None
    assert [r.job_id for r in reopened.page("", 0, 2)] == ["c", "b"]


def test_a_checkpoints_path_names_no_server_directory_and_registers_it(tmp_path: Path) -> None:
    """The job's record keeps where the training process wrote the checkpoint (an absolute path on the server); callers
    get its directory relative to the checkpoint root, which the inference providers resolve to the same checkpoint."""
    root = tmp_path / "data" / "post_training" / "checkpoints"
    directory = root / "team" / "sft-1"
    directory.mkdir(parents=True)
    (directory / checkpoints.MANIFEST).write_text("{}")
    (directory / checkpoints.GGUF_FILE).write_bytes(b"GGUF")
    saved = {"identifier": "team/sft-1", "job_id": "sft-1", "path": str(directory), "epoch": 0, "metrics": {}}
    record = JobRecord(job_id="sft-1", owner="", kind=1, model="m", checkpoints=[saved])
    (checkpoint,) = job_message(record).checkpoints
    assert checkpoint.path == "team/sft-1" and str(tmp_path) not in str(checkpoint)
    assert checkpoints.find_checkpoint(root, checkpoint.path, "provider_resource_id") == directory.resolve()


class SlowRows(datasetio_pb2_grpc.DatasetIOServiceServicer):
    """The gateway's datasetio API, as far as post-training reads it: one row per dataset, a little late (as rows read
    through a real mesh are), so that two calls are checked side by side."""

    async def IterRows(self, request, context):  # noqa: N802 - gRPC method
        await asyncio.sleep(0.5)
        row = struct_pb2.Struct()
        row.update({"input_query": f"from {request.dataset_id}?", "expected_answer": "yes"})
        return datasetio_pb2.IterRowsResponse(rows=[row], total_rows=1)


async def test_a_second_start_of_the_same_job_id_leaves_the_first_jobs_files_alone(tmp_path: Path) -> None:
    """Two starts of one job id at once: one job starts, the other is ALREADY_EXISTS and touches none of its files
    (it used to write its own spec over the started job's, then remove the job's work directory)."""
    async with serving((datasetio_pb2_grpc.add_DatasetIOServiceServicer_to_server, SlowRows())) as gateway_address:
        run = load_run_config(
            ROOT / "distributions" / "local-cpu" / "run.yaml",
            {"LLAMA_MESH_DATA_DIR": str(tmp_path / "data"), "LLAMA_MESH_GATEWAY_ADDRESS": gateway_address},
        )
        entry = run.service("post_training").providers[0]
        provider = huggingface(entry, run)
        base = checkpoints.default_checkpoint_root(run.data_dir) / "base"
        base.mkdir(parents=True)
        (base / checkpoints.MANIFEST).write_text(json.dumps({"base_gguf": str(tmp_path / "absent.gguf")}))
        await provider.start()
        try:
            requests = [
                pb.SupervisedFineTuneRequest(job_id="same", model="base", training_config=_config()) for _ in "ab"
            ]
            for request, dataset_id in zip(requests, ("alice-rows", "bob-rows"), strict=True):
                request.training_config.data_config.dataset_id = dataset_id
            results = await asyncio.gather(
                *(provider.supervised_fine_tune(request, None) for request in requests), return_exceptions=True
            )
            assert sorted(type(result).__name__ for result in results) == ["AlreadyExists", "TrainingJob"], results
            winner = next(
                request for request, result in zip(requests, results, strict=True) if isinstance(result, pb.TrainingJob)
            )
            # the started job's files, as it wrote them (its training process reads them: nothing else may)
            rows = provider.jobs.work_dir("same") / "rows.jsonl"
            assert f"from {winner.training_config.data_config.dataset_id}?" in rows.read_text()
        finally:
            await provider.close()


class NoModels(registry_pb2_grpc.RegistryServiceServicer):
    """The gateway's registry, as far as post-training asks it for the model to train: none is registered."""

    async def GetModel(self, request, context):  # noqa: N802 - gRPC method
        raise NotFound(f"model {request.model_id!r} is not registered", reason="RESOURCE_NOT_FOUND")


async def test_a_checkpoint_is_trained_further_only_by_its_jobs_owner(tmp_path: Path) -> None:
    """bob names alice's checkpoint as the model to train: NOT_FOUND, as for a name that is neither a registered model
    nor a checkpoint. alice (and an admin) may; the job's spec names its caller, whom the training process writes into
    the new checkpoint's manifest as its owner."""
    servicers = (
        (datasetio_pb2_grpc.add_DatasetIOServiceServicer_to_server, SlowRows()),
        (registry_pb2_grpc.add_RegistryServiceServicer_to_server, NoModels()),
    )
    async with serving(*servicers) as gateway_address:
        run = load_run_config(
            ROOT / "distributions" / "local-cpu" / "run.yaml",
            {"LLAMA_MESH_DATA_DIR": str(tmp_path / "data"), "LLAMA_MESH_GATEWAY_ADDRESS": gateway_address},
        )
        provider = huggingface(run.service("post_training").providers[0], run)
        base = checkpoints.default_checkpoint_root(run.data_dir) / "alice-sft"
        base.mkdir(parents=True)
        manifest = {"base_gguf": str(tmp_path / "absent.gguf"), "owner": "alice"}
        (base / checkpoints.MANIFEST).write_text(json.dumps(manifest))
        await provider.start()
        started: list[Path] = []
        provider.jobs.start = lambda job_id, spec_path: started.append(spec_path)  # type: ignore[method-assign]
        try:
            acting_for(Principal("bob"))
            request = pb.SupervisedFineTuneRequest(job_id="bobs", model="alice-sft", training_config=_config())
            with pytest.raises(NotFound) as caught:
                await provider.supervised_fine_tune(request, None)
            assert caught.value.reason == "MODEL_NOT_FOUND" and not started
            for job_id, principal in (("alices", Principal("alice")), ("admins", Principal("root", admin=True))):
                acting_for(principal)
                request = pb.SupervisedFineTuneRequest(job_id=job_id, model="alice-sft", training_config=_config())
                await provider.supervised_fine_tune(request, None)
                spec = json.loads(started[-1].read_text())
                assert spec["owner"] == principal.name and spec["base_checkpoint"] == str(base.resolve())
        finally:
            await provider.close()


async def test_a_checkpoint_dir_inside_anothers_checkpoint_is_refused(tmp_path: Path) -> None:
    """bob's job may not write its checkpoint into alice's checkpoint directory (`<checkpoint_dir>/<job_id>`)."""
    servicers = ((datasetio_pb2_grpc.add_DatasetIOServiceServicer_to_server, SlowRows()),)
    async with serving(*servicers) as gateway_address:
        run = load_run_config(
            ROOT / "distributions" / "local-cpu" / "run.yaml",
            {"LLAMA_MESH_DATA_DIR": str(tmp_path / "data"), "LLAMA_MESH_GATEWAY_ADDRESS": gateway_address},
        )
        provider = huggingface(run.service("post_training").providers[0], run)
        root = checkpoints.default_checkpoint_root(run.data_dir)
        for name, owner in (("base", "bob"), ("alice-sft", "alice")):
            (root / name).mkdir(parents=True)
            manifest = {"base_gguf": str(tmp_path / "absent.gguf"), "owner": owner}
            (root / name / checkpoints.MANIFEST).write_text(json.dumps(manifest))
        await provider.start()
        started: list[Path] = []
        provider.jobs.start = lambda job_id, spec_path: started.append(spec_path)  # type: ignore[method-assign]
        try:
            acting_for(Principal("bob"))
            for index, checkpoint_dir in enumerate(("alice-sft", "alice-sft/deeper/")):
                config = _config()
                request = pb.SupervisedFineTuneRequest(
                    job_id=f"bobs-{index}", model="base", checkpoint_dir=checkpoint_dir, training_config=config
                )
                with pytest.raises(InvalidArgument) as caught:
                    await provider.supervised_fine_tune(request, None)
                assert caught.value.metadata["field"] == "checkpoint_dir" and not started
            request = pb.SupervisedFineTuneRequest(
                job_id="bobs-own", model="base", checkpoint_dir="bob/runs", training_config=_config()
            )
            await provider.supervised_fine_tune(request, None)
            assert len(started) == 1
        finally:
            await provider.close()
