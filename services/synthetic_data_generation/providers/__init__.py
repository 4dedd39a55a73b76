"""The synthetic data providers a service hosts, built from the distribution's provider entries."""

from __future__ import annotations

from collections.abc import Callable

from llama_mesh.runtime.config import ProviderConfig, RunConfig
from llama_mesh.runtime.errors import FailedPrecondition
from llama_mesh.runtime.hosted_providers import HostedProviders
from services.synthetic_data_generation.provider import SyntheticDataProvider
from services.synthetic_data_generation.providers.meta_reference import meta_reference

PROVIDER_TYPES: dict[str, Callable[[ProviderConfig, RunConfig], SyntheticDataProvider]] = {
    "inline::meta-reference": meta_reference,
}


class SyntheticDataProviders(HostedProviders[SyntheticDataProvider]):
    """All synthetic data providers of one service, by provider id."""

    api = "synthetic_data_generation"
    factories = PROVIDER_TYPES

    def serving(self) -> SyntheticDataProvider:
        """The provider requests go to (the API is not routed: the service's first provider)."""
        for provider in self:
            return provider
        raise FailedPrecondition("this synthetic data service hosts no provider", reason="NO_PROVIDER")

    async def close(self) -> None:
        for provider in self:
            await provider.close()
