"""inline::huggingface: supervised fine-tuning (LoRA or full) and DPO with Hugging Face TRL and PEFT, as jobs.

Everything a job needs is checked within the start call, before anything is stored: the settings, the base model
(a registered LLM whose weights this service can read: a GGUF file of a llama-cpp or vLLM provider, or a checkpoint),
and every row of the dataset(s), read through the gateway. Only then is the job recorded, its rows and spec written
to its work directory, and its training process started (see jobs.py and training_run.py).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import grpc

from llama.common.v1 import resources_pb2
from llama.post_training.v1 import post_training_pb2 as pb
from llama.registry.v1 import registry_pb2
from llama_mesh import checkpoints
from llama_mesh.conversion_cache import model_cache_dir
from llama_mesh.model_sources import ModelSourceError, resolve_model_source
from llama_mesh.runtime.caller import owner_filter, record_owner
from llama_mesh.runtime.config import ProviderConfig, RunConfig
from llama_mesh.runtime.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    RemoteError,
    Unimplemented,
    without_paths,
)
from llama_mesh.runtime.gateway_client import Deadline, GatewayClient
from llama_mesh.runtime.job_messages import job_message as common_job_message
from llama_mesh.runtime.job_messages import timestamp
from llama_mesh.runtime.paging import make_token, page_size, read_token
from services.post_training.config import HuggingFacePostTrainingConfig
from services.post_training.job_store import JobRecord, JobStore
from services.post_training.jobs import TrainingJobs
from services.post_training.provider import PostTrainingProvider
from services.post_training.training_rows import read_rows, training_rows

JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_EPOCHS = 100
MAX_BATCH_SIZE = 256
MAX_RANK = 256
DTYPES = ("", "bf16", "fp16", "fp32")
LORA_ATTN_MODULES = ("q_proj", "k_proj", "v_proj", "output_proj")
OPTIMIZERS = {pb.OPTIMIZER_TYPE_ADAM: "adam", pb.OPTIMIZER_TYPE_ADAMW: "adamw", pb.OPTIMIZER_TYPE_SGD: "sgd"}
DPO_LOSSES = {
    pb.DPO_LOSS_TYPE_UNSPECIFIED: "sigmoid",
    pb.DPO_LOSS_TYPE_SIGMOID: "sigmoid",
    pb.DPO_LOSS_TYPE_HINGE: "hinge",
    pb.DPO_LOSS_TYPE_IPO: "ipo",
}
TRAINABLE_PROVIDER_TYPES = ("inline::llama-cpp", "inline::vllm")
LISTING = "training_jobs"


def _checkpoint_message(saved: dict[str, Any]) -> pb.Checkpoint:
    metrics = saved.get("metrics", {})
    validation = metrics.get("validation_loss")
    return pb.Checkpoint(
        identifier=saved["identifier"],
        create_time=timestamp(saved.get("created")),
        epoch=int(saved.get("epoch", 0)),
        job_id=saved.get("job_id", ""),
        # never the server's directory (saved["path"], in the job's record): the checkpoint's directory relative to
        # the checkpoint root, which is what its identifier names
        path=saved["identifier"],
        training_metrics=pb.TrainingMetrics(
            epoch=int(saved.get("epoch", 0)),
            train_loss=float(metrics.get("train_loss") or 0.0),
            validation_loss=float(validation or 0.0),
            perplexity=math.exp(min(float(validation), 50.0)) if validation is not None else 0.0,
        ),
    )


def job_message(record: JobRecord) -> pb.TrainingJob:
    job = common_job_message(record, "steps")
    job.metadata.update({key: value for key, value in record.details.items() if key not in ("device", "dtype")})
    message = pb.TrainingJob(
        job=job,
        type=record.kind,  # type: ignore[arg-type]
        model=record.model,
        checkpoints=[_checkpoint_message(saved) for saved in record.checkpoints],
    )
    if "device" in record.details:
        message.resources_allocated.update({"device": record.details["device"], "dtype": record.details["dtype"]})
    return message


def _positive(value: float, field: str) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise InvalidArgument(field, f"must be a positive number, got {value}")


def _training_settings(config: pb.TrainingConfig, provider: HuggingFacePostTrainingConfig, sft: bool) -> dict[str, Any]:
    """The checked training settings, as the training process reads them."""
    field = "training_config"
    if not config.HasField("data_config"):
        raise InvalidArgument(f"{field}.data_config", "is required")
    data, optimizer = config.data_config, config.optimizer_config
    if not 1 <= config.n_epochs <= MAX_EPOCHS:
        raise InvalidArgument(f"{field}.n_epochs", f"must be between 1 and {MAX_EPOCHS}, got {config.n_epochs}")
    if not 1 <= data.batch_size <= MAX_BATCH_SIZE:
        raise InvalidArgument(
            f"{field}.data_config.batch_size", f"must be between 1 and {MAX_BATCH_SIZE}, got {data.batch_size}"
        )
    if sft and data.data_format == pb.DATASET_FORMAT_UNSPECIFIED:
        raise InvalidArgument(f"{field}.data_config.data_format", "is required: DATASET_FORMAT_INSTRUCT or _DIALOG")
    if optimizer.optimizer_type not in OPTIMIZERS:
        raise InvalidArgument(f"{field}.optimizer_config.optimizer_type", "is required: ADAM, ADAMW or SGD")
    _positive(optimizer.lr, f"{field}.optimizer_config.lr")
    if not (optimizer.weight_decay >= 0 and math.isfinite(optimizer.weight_decay)):
        raise InvalidArgument(f"{field}.optimizer_config.weight_decay", "must not be negative")
    if optimizer.num_warmup_steps < 0:
        raise InvalidArgument(f"{field}.optimizer_config.num_warmup_steps", "must not be negative")
    for name in ("max_steps_per_epoch", "gradient_accumulation_steps", "max_validation_steps"):
        if config.HasField(name) and getattr(config, name) < 1:
            raise InvalidArgument(f"{field}.{name}", f"must be at least 1, got {getattr(config, name)}")
    if config.dtype not in DTYPES:
        raise InvalidArgument(f"{field}.dtype", f"must be bf16, fp16 or fp32, got {config.dtype!r}")
    return {
        "n_epochs": config.n_epochs,
        "max_steps_per_epoch": config.max_steps_per_epoch if config.HasField("max_steps_per_epoch") else None,
        "gradient_accumulation_steps": config.gradient_accumulation_steps or 1,
        "max_validation_steps": config.max_validation_steps if config.HasField("max_validation_steps") else 1,
        "batch_size": data.batch_size,
        "shuffle": data.shuffle,
        "packed": data.packed,
        "train_on_input": data.train_on_input,
        "optimizer": OPTIMIZERS[optimizer.optimizer_type],
        "lr": optimizer.lr,
        "weight_decay": optimizer.weight_decay,
        "warmup_steps": optimizer.num_warmup_steps,
        "gradient_checkpointing": config.efficiency_config.enable_activation_checkpointing,
        "dtype": config.dtype or "bf16",
        "max_seq_length": provider.max_seq_length,
    }


def _lora_settings(algorithm: pb.AlgorithmConfig) -> dict[str, Any] | None:
    kind = algorithm.WhichOneof("algorithm")
    if kind is None:
        return None  # full fine-tuning
    if kind == "qat":
        raise Unimplemented("quantization-aware training is not available in the huggingface provider; use LoRA "
                            "or full fine-tuning", reason="ALGORITHM_NOT_SUPPORTED")  # fmt: skip
    lora, field = algorithm.lora, "algorithm_config.lora"
    if not lora.lora_attn_modules:
        raise InvalidArgument(f"{field}.lora_attn_modules", f"name at least one of {', '.join(LORA_ATTN_MODULES)}")
    unknown = [name for name in lora.lora_attn_modules if name not in LORA_ATTN_MODULES]
    if unknown:
        raise InvalidArgument(
            f"{field}.lora_attn_modules", f"unknown module {unknown[0]!r}; known: {', '.join(LORA_ATTN_MODULES)}"
        )
    if not 1 <= lora.rank <= MAX_RANK:
        raise InvalidArgument(f"{field}.rank", f"must be between 1 and {MAX_RANK}, got {lora.rank}")
    if lora.alpha <= 0:
        raise InvalidArgument(f"{field}.alpha", f"must be positive, got {lora.alpha}")
    if lora.quantize_base:
        raise Unimplemented("QLoRA (quantize_base) is not available in the huggingface provider",
                            reason="ALGORITHM_NOT_SUPPORTED")  # fmt: skip
    return {
        "attn_modules": list(dict.fromkeys(lora.lora_attn_modules)),
        "mlp": lora.apply_lora_to_mlp,
        "output": lora.apply_lora_to_output,
        "rank": lora.rank,
        "alpha": lora.alpha,
        "dora": lora.use_dora,
    }


class HuggingFacePostTraining(PostTrainingProvider):
    def __init__(self, provider_id: str, config: HuggingFacePostTrainingConfig, run: RunConfig) -> None:
        self.provider_id = provider_id
        self._config = config
        self._run = run
        self._root = checkpoints.checkpoint_root(config.checkpoint_dir, run.data_dir)
        self._conversion_cache = model_cache_dir(run.cache_dir)
        self._gateway = GatewayClient(run.gateway.address)
        self._db_path = run.data_path("post_training", f"{provider_id}-jobs.db")
        self._store: JobStore | None = None
        self._jobs: TrainingJobs | None = None

    async def start(self) -> None:
        self._store = await asyncio.to_thread(JobStore, self._db_path)
        self._jobs = TrainingJobs(self._config, self._store, self._db_path.parent / "work")
        await self._jobs.recover()

    @property
    def store(self) -> JobStore:
        assert self._store is not None, "start() first"
        return self._store

    @property
    def jobs(self) -> TrainingJobs:
        assert self._jobs is not None, "start() first"
        return self._jobs

    # -- starting jobs ---------------------------------------------------------------------------------------------

    async def supervised_fine_tune(self, request: pb.SupervisedFineTuneRequest, deadline: Deadline) -> pb.TrainingJob:
        training = _training_settings(request.training_config, self._config, sft=True)
        lora = _lora_settings(request.algorithm_config)
        job_id = await self._new_job_id(request.job_id, "sft")
        checkpoint_id = self._checkpoint_id(request.checkpoint_dir, job_id)
        base = await self._base_model(request.model, "model", deadline)
        data = request.training_config.data_config
        rows = await self._rows(data.dataset_id, "training_config.data_config.dataset_id", data.data_format, deadline)
        validation = None
        if data.validation_dataset_id:
            field = "training_config.data_config.validation_dataset_id"
            validation = await self._rows(data.validation_dataset_id, field, data.data_format, deadline)
        spec = {"kind": "sft", "training": training, "lora": lora}
        return await self._start(job_id, pb.TRAINING_JOB_TYPE_SUPERVISED_FINE_TUNE, request.model, checkpoint_id,
                                 base, spec, rows, validation)  # fmt: skip

    async def preference_optimize(self, request: pb.PreferenceOptimizeRequest, deadline: Deadline) -> pb.TrainingJob:
        training = _training_settings(request.training_config, self._config, sft=False)
        algorithm = request.algorithm_config
        _positive(algorithm.beta, "algorithm_config.beta")
        if algorithm.loss_type not in DPO_LOSSES:
            raise Unimplemented(
                f"DPO loss {pb.DPOLossType.Name(algorithm.loss_type)} is not available (TRL dropped kto_pair; use KTO "
                "or another loss type)",
                reason="ALGORITHM_NOT_SUPPORTED",
            )
        job_id = await self._new_job_id(request.job_id, "dpo")
        checkpoint_id = self._checkpoint_id(request.checkpoint_dir, job_id)
        base = await self._base_model(request.finetuned_model, "finetuned_model", deadline)
        data = request.training_config.data_config
        rows = await self._rows(data.dataset_id, "training_config.data_config.dataset_id", None, deadline)
        validation = None
        if data.validation_dataset_id:
            field = "training_config.data_config.validation_dataset_id"
            validation = await self._rows(data.validation_dataset_id, field, None, deadline)
        spec = {
            "kind": "dpo",
            "training": training,
            "dpo": {"beta": algorithm.beta, "loss_type": DPO_LOSSES[algorithm.loss_type]},
        }
        return await self._start(job_id, pb.TRAINING_JOB_TYPE_PREFERENCE_OPTIMIZE, request.finetuned_model,
                                 checkpoint_id, base, spec, rows, validation)  # fmt: skip

    async def _new_job_id(self, requested: str, prefix: str) -> str:
        if not requested:
            return f"{prefix}-{uuid.uuid4().hex[:12]}"
        if not JOB_ID.fullmatch(requested):
            raise InvalidArgument(
                "job_id", "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        if await asyncio.to_thread(self.store.exists, requested):
            raise AlreadyExists(f"training job {requested!r} already exists", reason="JOB_EXISTS", job_id=requested)
        return requested

    def _checkpoint_id(self, checkpoint_dir: str, job_id: str) -> str:
        """Where under the checkpoint root the job's checkpoint goes: `<checkpoint_dir>/<job_id>`."""
        relative = f"{checkpoint_dir.strip('/')}/{job_id}" if checkpoint_dir else job_id
        target = checkpoints.inside(self._root, relative)
        if target is None or Path(checkpoint_dir).is_absolute() or ".." in Path(checkpoint_dir).parts:
            raise InvalidArgument(
                "checkpoint_dir", "must be a relative directory inside the checkpoint root (no leading '/', no '..')"
            )
        if target.exists():
            raise AlreadyExists(f"checkpoint {relative!r} already exists", reason="CHECKPOINT_EXISTS")
        root = self._root.resolve()
        if any((parent / checkpoints.MANIFEST).is_file() for parent in target.parents if parent.is_relative_to(root)):
            # a checkpoint is its owner's whole directory: another job's files never go inside it
            raise InvalidArgument("checkpoint_dir", "must not lie inside a checkpoint; choose a directory of your own")
        return relative

    async def _base_model(self, name: str, field: str, deadline: Deadline) -> dict[str, Any]:
        """Where the weights of the model to train come from: `base_gguf` and, for a checkpoint, its directory."""
        if not name:
            raise InvalidArgument(field, "is required: a registered model or a checkpoint identifier")
        checkpoint = self._checkpoint(name)
        if checkpoint is not None:
            return checkpoint
        try:
            model = await self._gateway.call(
                self._gateway.registry.GetModel, registry_pb2.GetModelRequest(model_id=name), deadline
            )
        except RemoteError as error:
            if error.code == grpc.StatusCode.NOT_FOUND:
                raise NotFound(
                    f"model {name!r} is neither a registered model (see `llama-mesh models list`) nor a checkpoint",
                    reason="MODEL_NOT_FOUND",
                    model=name,
                ) from error
            raise
        if model.model_type != resources_pb2.MODEL_TYPE_LLM:
            raise InvalidArgument(field, f"model {name!r} is not an LLM")
        # a registered model the caller may use (the gateway checked its token), served from a checkpoint
        checkpoint = self._checkpoint(model.provider_resource_id, registered=True)
        if checkpoint is not None:
            return checkpoint
        return {"base_gguf": self._provider_gguf(model), "base_checkpoint": None}

    def _checkpoint(self, name: str, *, registered: bool = False) -> dict[str, Any] | None:
        """The base of a job that trains checkpoint `name` further: None for a name that is no checkpoint, or (unless
        a model registered with it is what the caller named) another principal's."""
        target = checkpoints.inside(self._root, name)
        if target is None or not (target / checkpoints.MANIFEST).is_file():
            return None
        if not registered and checkpoints.hidden(self._root, name):
            return None
        manifest = checkpoints.read_manifest(target)
        return {"base_gguf": manifest["base_gguf"], "base_checkpoint": str(target)}

    def _provider_gguf(self, model: resources_pb2.Model) -> str:
        service = self._run.service_of_provider(model.provider_id)
        provider = next((p for p in service.providers if p.provider_id == model.provider_id), None) if service else None
        if provider is None or provider.provider_type not in TRAINABLE_PROVIDER_TYPES:
            raise FailedPrecondition(
                f"model {model.identifier!r} is served by provider {model.provider_id!r}, whose weights this service "
                f"cannot read (it trains models of {', '.join(TRAINABLE_PROVIDER_TYPES)} providers)",
                reason="MODEL_NOT_TRAINABLE",
                model=model.identifier,
            )
        entry = provider.config.get("models", {}).get(model.provider_resource_id, {})
        source = entry.get("source", "") if isinstance(entry, dict) else ""
        try:
            path = resolve_model_source(source) if source else None
        except ModelSourceError as exc:
            raise FailedPrecondition(
                f"model {model.identifier!r} cannot be trained: {without_paths(str(exc))}",
                reason="MODEL_NOT_TRAINABLE",
                model=model.identifier,
            ) from exc
        if path is None or path.suffix != ".gguf" or not path.is_file():
            raise FailedPrecondition(
                f"model {model.identifier!r} has no GGUF file this service can train from "
                f"(source {without_paths(source)!r})",
                reason="MODEL_NOT_TRAINABLE",
                model=model.identifier,
            )
        return str(path)

    async def _rows(self, dataset_id: str, field: str, data_format: int | None, deadline: Deadline) -> list[dict]:
        rows = await read_rows(self._gateway, dataset_id, field, self._config.max_rows, deadline)
        return training_rows(rows, dataset_id, field, data_format)

    async def _start(
        self, job_id: str, kind: int, model: str, checkpoint_id: str, base: dict[str, Any], spec: dict[str, Any],
        rows: list[dict], validation: list[dict] | None,
    ) -> pb.TrainingJob:  # fmt: skip
        work = self.jobs.work_dir(job_id)
        spec = {
            **spec,
            **base,
            "job_id": job_id,
            "owner": record_owner(),  # written into the checkpoint's manifest: the checkpoint is the job's owner's
            "model": model,
            "checkpoint_id": checkpoint_id,
            "checkpoint_path": str(self._root / checkpoint_id),
            "conversion_cache": self._conversion_cache,
            "work_dir": str(work),
            "rows_path": str(work / "rows.jsonl"),
            "validation_rows_path": str(work / "validation.jsonl") if validation else None,
        }
        spec_path = work / "spec.json"
        try:
            await asyncio.to_thread(_claim_work_dir, work)
        except FileExistsError:  # the same job id is being started by another call: its files are not ours
            raise AlreadyExists(f"training job {job_id!r} already exists", reason="JOB_EXISTS", job_id=job_id) from None
        try:
            await asyncio.to_thread(_write_work_dir, spec_path, spec, rows, validation)
            record = JobRecord(job_id=job_id, owner=record_owner(), kind=kind, model=model)
            if not await asyncio.to_thread(self.store.insert, record):
                raise AlreadyExists(f"training job {job_id!r} already exists", reason="JOB_EXISTS", job_id=job_id)
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, work, True)
            raise
        self.jobs.start(job_id, spec_path)
        return job_message(record)

    # -- jobs ------------------------------------------------------------------------------------------------------

    async def _record(self, job_id: str) -> JobRecord:
        if not job_id:
            raise InvalidArgument("job_id", "is required")
        record = await asyncio.to_thread(self.store.get, job_id, owner_filter())
        if record is None:
            raise NotFound(
                f"training job {job_id!r} does not exist (list them with `llama-mesh post-training jobs`)",
                reason="JOB_NOT_FOUND",
                job_id=job_id,
            )
        return record

    async def get_job(self, job_id: str) -> pb.TrainingJob:
        return job_message(await self._record(job_id))

    async def list_jobs(self, requested_size: int, token: str) -> pb.ListTrainingJobsResponse:
        size = page_size(requested_size)
        offset = read_token(token, LISTING) or 0
        if not isinstance(offset, int):
            raise InvalidArgument("page_token", "is not a page token this server returned for this list")
        records = await asyncio.to_thread(self.store.page, owner_filter(), offset, size + 1)
        next_token = make_token(LISTING, offset + size) if len(records) > size else ""
        return pb.ListTrainingJobsResponse(jobs=[job_message(r) for r in records[:size]], next_page_token=next_token)

    async def cancel_job(self, job_id: str) -> pb.TrainingJob:
        record = await self._record(job_id)
        if not record.final:
            await self.jobs.cancel(job_id)
        return await self.get_job(job_id)

    async def artifacts(self, job_id: str) -> pb.GetTrainingJobArtifactsResponse:
        record = await self._record(job_id)
        return pb.GetTrainingJobArtifactsResponse(
            job_id=job_id, checkpoints=[_checkpoint_message(saved) for saved in record.checkpoints]
        )

    async def close(self) -> None:
        if self._jobs is not None:
            await self._jobs.close()
        await self._gateway.close()
        if self._store is not None:
            await asyncio.to_thread(self._store.close)


def _claim_work_dir(work: Path) -> None:
    """Makes the job's work directory, which claims its id: FileExistsError when another call has it."""
    work.parent.mkdir(parents=True, exist_ok=True)
    work.mkdir()


def _write_work_dir(spec_path: Path, spec: dict[str, Any], rows: list[dict], validation: list[dict] | None) -> None:
    for path, content in ((spec["rows_path"], rows), (spec["validation_rows_path"], validation)):
        if path:
            Path(path).write_text("".join(json.dumps(row) + "\n" for row in content or []))
    spec_path.write_text(json.dumps(spec))


def huggingface(provider: ProviderConfig, run: RunConfig) -> HuggingFacePostTraining:
    config = HuggingFacePostTrainingConfig.model_validate(provider.config)
    return HuggingFacePostTraining(provider.provider_id, config, run)
