"""The eval providers an eval service hosts, built from the distribution's provider entries."""

from __future__ import annotations

from llama_mesh.runtime.hosted_providers import HostedProviders
from services.eval.providers.meta_reference import MetaReferenceEval, meta_reference


class EvalProviders(HostedProviders[MetaReferenceEval]):
    """All eval providers of one eval service, by provider id."""

    api = "eval"
    factories = {"inline::meta-reference": meta_reference}  # noqa: RUF012 - read-only table

    async def start(self) -> None:
        for provider in self:
            await provider.start()

    async def close(self) -> None:
        for provider in self:
            await provider.close()
