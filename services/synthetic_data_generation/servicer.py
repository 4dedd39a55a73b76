"""llama.synthetic_data_generation.v1.SyntheticDataGenerationService: hands each request to the service's provider."""

from __future__ import annotations

from llama.synthetic_data_generation.v1 import synthetic_data_generation_pb2_grpc
from services.synthetic_data_generation.progress_stream import progress_then_result
from services.synthetic_data_generation.providers import SyntheticDataProviders


def _ignore_progress(unit: str, done: int, total: int) -> None:
    pass


class SyntheticDataGenerationServicer(synthetic_data_generation_pb2_grpc.SyntheticDataGenerationServiceServicer):
    def __init__(self, providers: SyntheticDataProviders) -> None:
        self._providers = providers

    async def SynthesizeData(self, request, context):  # noqa: N802, ANN001, ANN201 - gRPC method
        return await self._providers.serving().synthesize(request, context, _ignore_progress)

    async def StreamSynthesizeData(self, request, context):  # noqa: N802, ANN001, ANN201
        provider = self._providers.serving()
        async for message in progress_then_result(lambda progress: provider.synthesize(request, context, progress)):
            yield message
