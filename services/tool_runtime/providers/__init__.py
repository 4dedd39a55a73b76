"""The tool runtime providers a tool_runtime service hosts, one per provider of its run.yaml entry."""

from __future__ import annotations

from collections.abc import Callable

from llama_mesh.runtime.config import ProviderConfig, RunConfig
from llama_mesh.runtime.errors import FailedPrecondition
from llama_mesh.runtime.gateway_client import GatewayClient
from llama_mesh.runtime.hosted_providers import HostedProviders
from services.tool_runtime.provider import ToolRuntimeProvider


def _rag(provider: ProviderConfig, run: RunConfig) -> ToolRuntimeProvider:
    from services.tool_runtime.providers.rag import RagRuntime, RagRuntimeConfig

    settings = RagRuntimeConfig.model_validate(provider.config or {})
    return RagRuntime(settings, run.data_path(), GatewayClient(run.gateway.address))


def _mcp(provider: ProviderConfig, run: RunConfig) -> ToolRuntimeProvider:
    from services.tool_runtime.providers.mcp import McpConfig, McpRuntime

    return McpRuntime(McpConfig.model_validate(provider.config or {}))


def _web_search(provider: ProviderConfig, run: RunConfig) -> ToolRuntimeProvider:
    from services.tool_runtime.providers.web_search import WebSearchConfig, WebSearchRuntime

    return WebSearchRuntime(WebSearchConfig.model_validate(provider.config or {}))


PROVIDER_TYPES: dict[str, Callable[[ProviderConfig, RunConfig], ToolRuntimeProvider]] = {
    "inline::rag-runtime": _rag,
    "remote::model-context-protocol": _mcp,
    "remote::web-search": _web_search,
}


class ToolRuntimeProviders(HostedProviders[ToolRuntimeProvider]):
    """The tool runtime providers of one tool_runtime service, by provider id."""

    api = "tool_runtime"
    factories = PROVIDER_TYPES

    def rag(self):  # noqa: ANN201 - RagRuntime, imported lazily
        """The RAG provider, for the RAG RPCs that name no tool group."""
        from services.tool_runtime.providers.rag import RagRuntime

        for provider in self:
            if isinstance(provider, RagRuntime):
                return provider
        raise FailedPrecondition(
            "this tool_runtime service hosts no inline::rag-runtime provider", reason="NO_RAG_PROVIDER"
        )

    async def start(self) -> None:
        for provider in self:
            await provider.start()

    async def close(self) -> None:
        for provider in self:
            await provider.close()
