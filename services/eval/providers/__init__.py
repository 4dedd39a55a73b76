"""The eval providers an eval service hosts, built from the distribution's provider entries."""

from __future__ import annotations

from collections.abc import Callable

from llama_mesh.runtime.config import ProviderConfig, RunConfig
from llama_mesh.runtime.hosted_providers import HostedProviders
from services.eval.provider import EvalProvider


def _meta_reference(provider: ProviderConfig, run: RunConfig) -> EvalProvider:
    from services.eval.providers.meta_reference import meta_reference

    return meta_reference(provider, run)


PROVIDER_TYPES: dict[str, Callable[[ProviderConfig, RunConfig], EvalProvider]] = {
    "inline::meta-reference": _meta_reference,
}


class EvalProviders(HostedProviders[EvalProvider]):
    """All eval providers of one eval service, by provider id."""

    api = "eval"
    factories = PROVIDER_TYPES

    async def start(self) -> None:
        for provider in self:
            await provider.start()

    async def close(self) -> None:
        for provider in self:
            await provider.close()
