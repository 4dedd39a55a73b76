"""The interface of a synthetic data provider: one request in, the rows and statistics out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import grpc

from llama.synthetic_data_generation.v1 import synthetic_data_generation_pb2 as pb

# (unit, done, total): called as candidates are generated ("generated") and scored ("scored").
Progress = Callable[[str, int, int], None]


class SyntheticDataProvider(ABC):
    provider_id: str

    @abstractmethod
    async def synthesize(
        self, request: pb.SynthesizeDataRequest, context: grpc.aio.ServicerContext, progress: Progress
    ) -> pb.SynthesizeDataResponse:
        """Generate, score and filter within the call, bounded by its deadline; cancelled with it."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the provider holds."""
