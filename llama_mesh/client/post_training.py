"""`client.post_training`: fine-tune (LoRA or full) and DPO as jobs, follow them, list their checkpoints; sync and
async.

    job = client.post_training.supervised_fine_tune("smollm2-135m-instruct", "my-dataset", lora_rank=8, n_epochs=3)
    while (job := client.post_training.get_job(job.job.job_id)).job.status not in FINAL_STATES:
        time.sleep(1)
    checkpoint = client.post_training.artifacts(job.job.job_id).checkpoints[0]
    client.models.register("my-model", provider_id="llama-cpp", provider_resource_id=checkpoint.identifier)
"""

# ruff: noqa: ASYNC109 - `timeout` is the gRPC deadline handed to the call, named as grpc.aio names it.

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence

from llama.post_training.v1 import post_training_pb2 as pb
from llama.post_training.v1 import post_training_pb2_grpc
from llama_mesh.client.transport import AsyncTransport, Transport
from llama_mesh.runtime.job_messages import FINAL_STATES  # noqa: F401  (re-exported for callers that poll jobs)

DATA_FORMATS = {"instruct": pb.DATASET_FORMAT_INSTRUCT, "dialog": pb.DATASET_FORMAT_DIALOG}
OPTIMIZERS = {"adam": pb.OPTIMIZER_TYPE_ADAM, "adamw": pb.OPTIMIZER_TYPE_ADAMW, "sgd": pb.OPTIMIZER_TYPE_SGD}
DPO_LOSSES = {"sigmoid": pb.DPO_LOSS_TYPE_SIGMOID, "hinge": pb.DPO_LOSS_TYPE_HINGE, "ipo": pb.DPO_LOSS_TYPE_IPO}


def training_config(
    dataset_id: str,
    *,
    data_format: str = "instruct",
    n_epochs: int = 1,
    batch_size: int = 1,
    lr: float = 1e-4,
    optimizer: str = "adamw",
    weight_decay: float = 0.0,
    warmup_steps: int = 0,
    max_steps_per_epoch: int | None = None,
    gradient_accumulation_steps: int | None = None,
    validation_dataset_id: str = "",
    dtype: str = "",
) -> pb.TrainingConfig:
    """A TrainingConfig (KeyError for an unknown data_format or optimizer name)."""
    config = pb.TrainingConfig(
        n_epochs=n_epochs,
        data_config=pb.DataConfig(
            dataset_id=dataset_id,
            batch_size=batch_size,
            data_format=DATA_FORMATS[data_format],
            validation_dataset_id=validation_dataset_id,
        ),
        optimizer_config=pb.OptimizerConfig(
            optimizer_type=OPTIMIZERS[optimizer], lr=lr, weight_decay=weight_decay, num_warmup_steps=warmup_steps
        ),
        dtype=dtype,
    )
    if max_steps_per_epoch is not None:
        config.max_steps_per_epoch = max_steps_per_epoch
    if gradient_accumulation_steps is not None:
        config.gradient_accumulation_steps = gradient_accumulation_steps
    return config


def lora_config(
    rank: int, alpha: int | None = None, modules: Sequence[str] = ("q_proj", "v_proj"), *, mlp: bool = False,
    output: bool = False,
) -> pb.AlgorithmConfig:  # fmt: skip
    return pb.AlgorithmConfig(
        lora=pb.LoraFinetuningConfig(
            lora_attn_modules=list(modules),
            rank=rank,
            alpha=alpha if alpha is not None else 2 * rank,
            apply_lora_to_mlp=mlp,
            apply_lora_to_output=output,
        )
    )


def sft_request(
    model: str, config: pb.TrainingConfig, lora: pb.AlgorithmConfig | None, job_id: str, checkpoint_dir: str
) -> pb.SupervisedFineTuneRequest:
    return pb.SupervisedFineTuneRequest(
        job_id=job_id, model=model, training_config=config, algorithm_config=lora, checkpoint_dir=checkpoint_dir
    )


def dpo_request(
    model: str, config: pb.TrainingConfig, beta: float, loss: str, job_id: str, checkpoint_dir: str
) -> pb.PreferenceOptimizeRequest:
    return pb.PreferenceOptimizeRequest(
        job_id=job_id,
        finetuned_model=model,
        algorithm_config=pb.DPOAlignmentConfig(beta=beta, loss_type=DPO_LOSSES[loss]),
        training_config=config,
        checkpoint_dir=checkpoint_dir,
    )


class PostTraining:
    """PostTrainingService calls through the gateway (blocking)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._stub = post_training_pb2_grpc.PostTrainingServiceStub(transport.channel)

    def supervised_fine_tune(
        self, model: str, config: pb.TrainingConfig, lora: pb.AlgorithmConfig | None = None, *, job_id: str = "",
        checkpoint_dir: str = "", timeout: float | None = None,
    ) -> pb.TrainingJob:  # fmt: skip
        """Start fine-tuning (LoRA when `lora` is given, else full); returns at once (QUEUED or RUNNING)."""
        request = sft_request(model, config, lora, job_id, checkpoint_dir)
        return self._transport.unary(self._stub.SupervisedFineTune, request, timeout)

    def preference_optimize(
        self, model: str, config: pb.TrainingConfig, *, beta: float = 0.1, loss: str = "sigmoid", job_id: str = "",
        checkpoint_dir: str = "", timeout: float | None = None,
    ) -> pb.TrainingJob:  # fmt: skip
        """Start DPO of a model or checkpoint on prompt/chosen/rejected rows."""
        request = dpo_request(model, config, beta, loss, job_id, checkpoint_dir)
        return self._transport.unary(self._stub.PreferenceOptimize, request, timeout)

    def get_job(self, job_id: str, *, timeout: float | None = None) -> pb.TrainingJob:
        return self._transport.unary(self._stub.GetTrainingJob, pb.GetTrainingJobRequest(job_id=job_id), timeout)

    def cancel_job(self, job_id: str, *, timeout: float | None = None) -> pb.TrainingJob:
        request = pb.CancelTrainingJobRequest(job_id=job_id)
        return self._transport.unary(self._stub.CancelTrainingJob, request, timeout)

    def artifacts(self, job_id: str, *, timeout: float | None = None) -> pb.GetTrainingJobArtifactsResponse:
        request = pb.GetTrainingJobArtifactsRequest(job_id=job_id)
        return self._transport.unary(self._stub.GetTrainingJobArtifacts, request, timeout)

    def iter_jobs(self, *, page_size: int = 0, timeout: float | None = None) -> Iterator[pb.TrainingJob]:
        """Every training job, newest first, page after page."""
        request = pb.ListTrainingJobsRequest(page_size=page_size)
        return self._transport.pages(self._stub.ListTrainingJobs, request, "jobs", timeout)

    def list_jobs(self, *, timeout: float | None = None) -> list[pb.TrainingJob]:
        return list(self.iter_jobs(timeout=timeout))


class AsyncPostTraining:
    """The async flavour of `PostTraining`."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport
        self._stub = post_training_pb2_grpc.PostTrainingServiceStub(transport.channel)

    async def supervised_fine_tune(
        self, model: str, config: pb.TrainingConfig, lora: pb.AlgorithmConfig | None = None, *, job_id: str = "",
        checkpoint_dir: str = "", timeout: float | None = None,
    ) -> pb.TrainingJob:  # fmt: skip
        request = sft_request(model, config, lora, job_id, checkpoint_dir)
        return await self._transport.unary(self._stub.SupervisedFineTune, request, timeout)

    async def preference_optimize(
        self, model: str, config: pb.TrainingConfig, *, beta: float = 0.1, loss: str = "sigmoid", job_id: str = "",
        checkpoint_dir: str = "", timeout: float | None = None,
    ) -> pb.TrainingJob:  # fmt: skip
        request = dpo_request(model, config, beta, loss, job_id, checkpoint_dir)
        return await self._transport.unary(self._stub.PreferenceOptimize, request, timeout)

    async def get_job(self, job_id: str, *, timeout: float | None = None) -> pb.TrainingJob:
        request = pb.GetTrainingJobRequest(job_id=job_id)
        return await self._transport.unary(self._stub.GetTrainingJob, request, timeout)

    async def cancel_job(self, job_id: str, *, timeout: float | None = None) -> pb.TrainingJob:
        request = pb.CancelTrainingJobRequest(job_id=job_id)
        return await self._transport.unary(self._stub.CancelTrainingJob, request, timeout)

    async def artifacts(self, job_id: str, *, timeout: float | None = None) -> pb.GetTrainingJobArtifactsResponse:
        request = pb.GetTrainingJobArtifactsRequest(job_id=job_id)
        return await self._transport.unary(self._stub.GetTrainingJobArtifacts, request, timeout)

    def iter_jobs(self, *, page_size: int = 0, timeout: float | None = None) -> AsyncIterator[pb.TrainingJob]:
        """Every training job, newest first, page after page."""
        request = pb.ListTrainingJobsRequest(page_size=page_size)
        return self._transport.pages(self._stub.ListTrainingJobs, request, "jobs", timeout)

    async def list_jobs(self, *, timeout: float | None = None) -> list[pb.TrainingJob]:
        return [job async for job in self.iter_jobs(timeout=timeout)]
