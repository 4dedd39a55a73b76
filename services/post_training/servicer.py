"""llama.post_training.v1.PostTrainingService: hands each call to the service's provider."""

from __future__ import annotations

from llama.post_training.v1 import post_training_pb2_grpc
from services.post_training.providers import PostTrainingProviders


class PostTrainingServicer(post_training_pb2_grpc.PostTrainingServiceServicer):
    def __init__(self, providers: PostTrainingProviders) -> None:
        self._providers = providers

    async def SupervisedFineTune(self, request, context):  # noqa: N802, ANN001, ANN201 - gRPC method
        return await self._providers.serving().supervised_fine_tune(request, context)

    async def PreferenceOptimize(self, request, context):  # noqa: N802, ANN001, ANN201
        return await self._providers.serving().preference_optimize(request, context)

    async def GetTrainingJob(self, request, context):  # noqa: N802, ANN001, ANN201
        return await self._providers.serving().get_job(request.job_id)

    async def ListTrainingJobs(self, request, context):  # noqa: N802, ANN001, ANN201
        return await self._providers.serving().list_jobs(request.page_size, request.page_token)

    async def CancelTrainingJob(self, request, context):  # noqa: N802, ANN001, ANN201
        return await self._providers.serving().cancel_job(request.job_id)

    async def GetTrainingJobArtifacts(self, request, context):  # noqa: N802, ANN001, ANN201
        return await self._providers.serving().artifacts(request.job_id)
