"""The post-training providers a post-training service hosts, built from the distribution's provider entries."""

from __future__ import annotations

from collections.abc import Callable

from llama_mesh.runtime.config import ProviderConfig, RunConfig
from llama_mesh.runtime.errors import FailedPrecondition
from llama_mesh.runtime.hosted_providers import HostedProviders
from services.post_training.provider import PostTrainingProvider
from services.post_training.providers.huggingface import huggingface

PROVIDER_TYPES: dict[str, Callable[[ProviderConfig, RunConfig], PostTrainingProvider]] = {
    "inline::huggingface": huggingface,
}


class PostTrainingProviders(HostedProviders[PostTrainingProvider]):
    api = "post_training"
    factories = PROVIDER_TYPES

    def serving(self) -> PostTrainingProvider:
        """The provider that serves the API's calls (they name no resource, so the service hosts exactly one)."""
        if len(self.providers) != 1:
            raise FailedPrecondition(
                f"this post_training service hosts {len(self.providers)} providers; configure exactly one",
                reason="PROVIDER_NOT_HOSTED",
            )
        return next(iter(self))

    async def start(self) -> None:
        for provider in self:
            await provider.start()

    async def close(self) -> None:
        for provider in self:
            await provider.close()
