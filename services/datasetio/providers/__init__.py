"""The dataset providers a datasetio service hosts, built from the distribution's provider entries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from llama_mesh.runtime.config import ProviderConfig, RunConfig
from llama_mesh.runtime.hosted_providers import HostedProviders
from services.datasetio.provider import DatasetProvider
from services.datasetio.providers.localfs import LocalFSConfig, LocalFSDatasets


def _localfs(provider: ProviderConfig, run: RunConfig) -> DatasetProvider:
    data_dir = Path(run.data_dir).expanduser()
    return LocalFSDatasets(provider.provider_id, LocalFSConfig.model_validate(provider.config), data_dir)


PROVIDER_TYPES: dict[str, Callable[[ProviderConfig, RunConfig], DatasetProvider]] = {
    "inline::localfs": _localfs,
}


class DatasetProviders(HostedProviders[DatasetProvider]):
    """All dataset providers of one datasetio service, by provider id."""

    api = "datasetio"
    factories = PROVIDER_TYPES

    async def close(self) -> None:
        for provider in self:
            await provider.close()
