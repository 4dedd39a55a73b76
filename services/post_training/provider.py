"""What a post-training provider does; the servicer talks to this interface only."""

from __future__ import annotations

from abc import ABC, abstractmethod

from llama.post_training.v1 import post_training_pb2 as pb
from llama_mesh.runtime.gateway_client import Deadline


class PostTrainingProvider(ABC):
    provider_id: str

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Open stores and recover jobs of a previous run."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Stop running jobs."""

    @abstractmethod
    async def supervised_fine_tune(self, request: pb.SupervisedFineTuneRequest, deadline: Deadline) -> pb.TrainingJob:
        """Checks the request and its data, then starts the job (returned QUEUED or RUNNING)."""

    @abstractmethod
    async def preference_optimize(self, request: pb.PreferenceOptimizeRequest, deadline: Deadline) -> pb.TrainingJob:
        """As supervised_fine_tune, for DPO."""

    @abstractmethod
    async def get_job(self, job_id: str) -> pb.TrainingJob: ...

    @abstractmethod
    async def list_jobs(self, page_size: int, page_token: str) -> pb.ListTrainingJobsResponse: ...

    @abstractmethod
    async def cancel_job(self, job_id: str) -> pb.TrainingJob: ...

    @abstractmethod
    async def artifacts(self, job_id: str) -> pb.GetTrainingJobArtifactsResponse: ...
