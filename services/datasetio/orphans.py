"""The datasetio service's orphan sweep (llama_mesh/orphan_sweep.py): rows appended to a dataset id that no registered
dataset has (an append that raced the dataset's unregister, or a crash between the registry's delete and the release)
are dropped once the registry answers. Preparing a dataset makes nothing here, so there is no registration to wait
for: the sweep asks the registry at once."""

from __future__ import annotations

from llama.common.v1 import resources_pb2 as res
from llama_mesh.orphan_sweep import ListRegistered, OrphanSweep
from llama_mesh.runtime.config import AuthConfig
from services.datasetio.providers import DatasetProviders


async def kept_at_start(providers: DatasetProviders) -> dict[str, list[str]]:
    """The dataset ids each provider keeps appended rows for, by provider id (call before serving)."""
    return {provider.provider_id: await provider.kept() for provider in providers}


def appended_rows_sweep(auth: AuthConfig, providers: DatasetProviders, list_registered: ListRegistered) -> OrphanSweep:
    def dataset_id(dataset: res.Dataset) -> str:
        return dataset.identifier

    async def forget(provider_id: str, dataset_id: str) -> None:
        await providers.providers[provider_id].forget(dataset_id)

    return OrphanSweep(auth, "datasetio", "appended rows of dataset", list_registered, dataset_id, forget, delay=0)
