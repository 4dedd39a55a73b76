"""The provider instances one service hosts, built from its entry in the distribution, looked up by provider id."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import ClassVar, Generic, Self, TypeVar

from llama_mesh.runtime.config import ProviderConfig, RunConfig
from llama_mesh.runtime.errors import FailedPrecondition

P = TypeVar("P")
ProviderFactory = Callable[[ProviderConfig, RunConfig], P]


class HostedProviders(Generic[P]):
    """Providers by id; a service subclasses this with what its API needs on top (start, close, lookups)."""

    api = "this"
    # provider_type -> factory; each service's subclass names its own.
    factories: ClassVar[dict[str, ProviderFactory]] = {}

    def __init__(self, providers: dict[str, P]) -> None:
        self.providers = providers

    @classmethod
    def from_config(cls, configs: list[ProviderConfig], run: RunConfig) -> Self:
        """One provider per config entry, by its provider_type; an unknown type is a configuration error."""
        built: dict[str, P] = {}
        for provider in configs:
            factory = cls.factories.get(provider.provider_type)
            if factory is None:
                raise ValueError(
                    f"provider {provider.provider_id!r}: unknown provider_type {provider.provider_type!r} for the "
                    f"{cls.api} API; known: {', '.join(cls.factories)}"
                )
            built[provider.provider_id] = factory(provider, run)
        return cls(built)

    def get(self, provider_id: str) -> P:
        """The provider a resource names; FAILED_PRECONDITION when this service does not host it (the gateway and
        the service were started from different distributions)."""
        if provider_id not in self.providers:
            raise FailedPrecondition(
                f"provider {provider_id!r} is not hosted by this {self.api} service (it hosts "
                f"{', '.join(self.providers) or 'none'})",
                reason="PROVIDER_NOT_HOSTED",
                provider_id=provider_id,
            )
        return self.providers[provider_id]

    def __iter__(self) -> Iterator[P]:
        return iter(self.providers.values())
