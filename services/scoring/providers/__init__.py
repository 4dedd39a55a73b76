"""The scoring providers a scoring service hosts, built from the distribution's provider entries."""

from __future__ import annotations

from collections.abc import Callable

from llama_mesh.runtime.config import ProviderConfig, RunConfig
from llama_mesh.runtime.gateway_client import GatewayClient
from llama_mesh.runtime.hosted_providers import HostedProviders
from services.scoring.provider import ScoringProvider
from services.scoring.providers.basic import BasicConfig, BasicScoring
from services.scoring.providers.llm_as_judge import JudgeConfig, JudgeScoring


def _basic(provider: ProviderConfig, run: RunConfig) -> ScoringProvider:
    return BasicScoring(provider.provider_id, BasicConfig.model_validate(provider.config))


def _llm_as_judge(provider: ProviderConfig, run: RunConfig) -> ScoringProvider:
    config = JudgeConfig.model_validate(provider.config)
    return JudgeScoring(provider.provider_id, config, GatewayClient(run.gateway.address))


PROVIDER_TYPES: dict[str, Callable[[ProviderConfig, RunConfig], ScoringProvider]] = {
    "inline::basic": _basic,
    "inline::llm-as-judge": _llm_as_judge,
}


class ScoringProviders(HostedProviders[ScoringProvider]):
    """All scoring providers of one scoring service, by provider id."""

    api = "scoring"
    factories = PROVIDER_TYPES

    async def close(self) -> None:
        for provider in self:
            await provider.close()
