"""The shield providers a safety service hosts, built from the distribution's provider entries."""

from __future__ import annotations

from collections.abc import Callable

from llama_mesh.runtime.config import ProviderConfig, RunConfig
from llama_mesh.runtime.hosted_providers import HostedProviders
from services.safety.provider import SafetyShield
from services.safety.providers.code_scanner import CodeScannerConfig, CodeScannerShield
from services.safety.providers.llama_guard import LlamaGuardConfig, LlamaGuardShield
from services.safety.providers.prompt_injection import PromptInjectionConfig, PromptInjectionShield


def _llama_guard(provider: ProviderConfig, run: RunConfig) -> SafetyShield:
    return LlamaGuardShield(provider.provider_id, LlamaGuardConfig.model_validate(provider.config), run.gateway.address)


def _code_scanner(provider: ProviderConfig, run: RunConfig) -> SafetyShield:
    return CodeScannerShield(provider.provider_id, CodeScannerConfig.model_validate(provider.config))


def _prompt_injection(provider: ProviderConfig, run: RunConfig) -> SafetyShield:
    return PromptInjectionShield(provider.provider_id, PromptInjectionConfig.model_validate(provider.config))


PROVIDER_TYPES: dict[str, Callable[[ProviderConfig, RunConfig], SafetyShield]] = {
    "inline::llama-guard": _llama_guard,
    "inline::code-scanner": _code_scanner,
    "inline::prompt-injection": _prompt_injection,
}


class ShieldProviders(HostedProviders[SafetyShield]):
    """All shield providers of one safety service, by provider id."""

    api = "safety"
    factories = PROVIDER_TYPES

    async def close(self) -> None:
        for provider in self:
            await provider.close()
