"""The interface every datasetio provider implements; the servicer only knows this."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from llama.common.v1 import resources_pb2 as res
from services.datasetio.row_values import Row


@dataclass(frozen=True)
class RowsWindow:
    rows: list[Row]
    # Rows in the whole dataset.
    total: int


class DatasetProvider(ABC):
    def __init__(self, provider_id: str) -> None:
        self.provider_id = provider_id

    @abstractmethod
    async def prepare(self, dataset: res.Dataset) -> res.Dataset:
        """Check that the source can be read and has the columns the purpose needs (INVALID_ARGUMENT otherwise), and
        forget what an earlier registration of the same id left (a new registration starts with no appended rows)."""

    async def release(self, dataset: res.Dataset) -> None:
        """Forget what the provider keeps for the dataset (its appended rows)."""
        await self.forget(dataset.identifier)

    async def kept(self) -> list[str]:
        """The ids of the datasets the provider keeps something for (appended rows), for the orphan sweep."""
        return []

    async def forget(self, dataset_id: str) -> None:  # noqa: B027 - a provider that keeps nothing has nothing to do
        """Drop what the provider keeps for the dataset id; an id it keeps nothing for is not an error."""

    @abstractmethod
    async def window(self, dataset: res.Dataset, start: int, limit: int) -> RowsWindow:
        """Rows `start` .. `start + limit - 1` in dataset order (fewer at the end)."""

    @abstractmethod
    async def append(self, dataset: res.Dataset, rows: Sequence[Row]) -> int:
        """Append all rows or none; the dataset's row count after it."""

    async def close(self) -> None:
        return None
