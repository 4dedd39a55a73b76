"""The shield providers a safety service hosts, built from the distribution's provider entries."""

from __future__ import annotations

from collections.abc import Callable

from llama_mesh.runtime.config import ProviderConfig, RunConfig
from llama_mesh.runtime.errors import FailedPrecondition
from services.safety.code_scanner import CodeScannerConfig, CodeScannerShield
from services.safety.llama_guard import LlamaGuardConfig, LlamaGuardShield
from services.safety.shield import SafetyShield


def _llama_guard(provider: ProviderConfig, run: RunConfig) -> SafetyShield:
    return LlamaGuardShield(provider.provider_id, LlamaGuardConfig.model_validate(provider.config), run.gateway.address)


def _code_scanner(provider: ProviderConfig, run: RunConfig) -> SafetyShield:
    return CodeScannerShield(provider.provider_id, CodeScannerConfig.model_validate(provider.config))


PROVIDER_TYPES: dict[str, Callable[[ProviderConfig, RunConfig], SafetyShield]] = {
    "inline::llama-guard": _llama_guard,
    "inline::code-scanner": _code_scanner,
}


class ShieldProviders:
    """All shield providers of one safety service, by provider id."""

    def __init__(self, providers: dict[str, SafetyShield]) -> None:
        self.providers = providers

    @classmethod
    def from_config(cls, providers: list[ProviderConfig], run: RunConfig) -> ShieldProviders:
        built: dict[str, SafetyShield] = {}
        for provider in providers:
            factory = PROVIDER_TYPES.get(provider.provider_type)
            if factory is None:
                raise ValueError(
                    f"provider {provider.provider_id!r}: unknown provider_type {provider.provider_type!r}; "
                    f"known: {', '.join(PROVIDER_TYPES)}"
                )
            built[provider.provider_id] = factory(provider, run)
        return cls(built)

    def get(self, provider_id: str) -> SafetyShield:
        if provider_id not in self.providers:
            raise FailedPrecondition(
                f"provider {provider_id!r} is not hosted by this safety service (it hosts "
                f"{', '.join(self.providers) or 'none'})",
                reason="PROVIDER_NOT_HOSTED",
                provider_id=provider_id,
            )
        return self.providers[provider_id]

    async def close(self) -> None:
        for provider in self.providers.values():
            await provider.close()
