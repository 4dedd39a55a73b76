"""`remote::web-search`: one tool, `web_search`, answered by a Brave Search or Tavily API.

The API key comes from the provider config or, per request, from the caller's provider data
(`x-llama-mesh-provider-data: {"brave_api_key": ...}` or `tavily_api_key`). Keys are never logged or echoed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import BaseModel

from llama.common.v1 import resources_pb2
from llama_mesh.runtime.errors import DeadlineExceeded, FailedPrecondition, InvalidArgument, NotFound, Unavailable
from llama_mesh.runtime.url_fetch import UrlPolicy, check_http_url, pinned_client
from services.tool_runtime import provider_data
from services.tool_runtime.provider import ToolResult, ToolRuntimeProvider, ToolSpec

log = logging.getLogger(__name__)

TOOL_NAME = "web_search"
DEFAULT_URLS = {"brave": "https://api.search.brave.com", "tavily": "https://api.tavily.com"}
DEFAULT_TIMEOUT_S = 30.0
MAX_RESULTS = 20

SPEC = ToolSpec(
    name=TOOL_NAME,
    description="Search the web; returns the title, URL and a snippet of each result.",
    parameters={
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "what to search for"},
            "max_results": {"type": "integer", "minimum": 1, "maximum": MAX_RESULTS, "default": 3},
        },
        "required": ["query"],
    },
)


class WebSearchConfig(BaseModel):
    engine: Literal["brave", "tavily"] = "brave"
    base_url: str = ""
    api_key: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class SearchHit:
    title: str
    url: str
    snippet: str


def _arguments(kwargs: dict[str, Any]) -> tuple[str, int]:
    query = kwargs.get("query")
    if not isinstance(query, str) or not query.strip():
        raise InvalidArgument("kwargs.query", "a non-empty string is required")
    count = kwargs.get("max_results", 3)
    if isinstance(count, float) and count.is_integer():
        count = int(count)  # protobuf Struct numbers arrive as floats
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_RESULTS:
        raise InvalidArgument("kwargs.max_results", f"must be an integer in 1..{MAX_RESULTS}")
    return query.strip(), count


def _brave_hits(body: dict[str, Any]) -> list[SearchHit]:
    results = (body.get("web") or {}).get("results") or []
    return [SearchHit(r.get("title", ""), r.get("url", ""), r.get("description", "")) for r in results]


def _tavily_hits(body: dict[str, Any]) -> list[SearchHit]:
    results = body.get("results") or []
    return [SearchHit(r.get("title", ""), r.get("url", ""), r.get("content", "")) for r in results]


def format_hits(query: str, hits: list[SearchHit]) -> str:
    if not hits:
        return f"web_search found no results for {query!r}."
    lines = [f"web_search found {len(hits)} results for {query!r}:"]
    for number, hit in enumerate(hits, 1):
        lines.append(f"[{number}] {hit.title}\nURL: {hit.url}\n{hit.snippet}")
    return "\n\n".join(lines)


class WebSearchRuntime(ToolRuntimeProvider):
    def __init__(self, config: WebSearchConfig) -> None:
        self._config = config
        self._base_url = (config.base_url or DEFAULT_URLS[config.engine]).rstrip("/")
        # The operator names the search API, so its host is trusted; the client still connects only where it checked.
        host, _ = check_http_url(self._base_url, "base_url")
        self._url_policy = UrlPolicy(
            "base_url", "SEARCH_UNAVAILABLE", Unavailable, allowed_hosts=frozenset({host.lower()})
        )

    def _api_key(self) -> str:
        field = f"{self._config.engine}_api_key"
        key = provider_data.current().get(field) or self._config.api_key
        if not isinstance(key, str) or not key:
            raise FailedPrecondition(
                f"web search ({self._config.engine}) needs an API key: set `api_key` in the provider config, or send "
                f'metadata {provider_data.PROVIDER_DATA_HEADER}: {{"{field}": "..."}} with the request',
                reason="API_KEY_MISSING",
            )
        return key

    async def list_tools(self, tool_group: resources_pb2.ToolGroup, time_left: float | None) -> list[ToolSpec]:
        return [SPEC]

    async def invoke(
        self, tool_group: resources_pb2.ToolGroup, tool_name: str, kwargs: dict[str, Any], time_left: float | None
    ) -> ToolResult:
        if tool_name != TOOL_NAME:
            raise NotFound(
                f"tool group {tool_group.identifier!r} has no tool {tool_name!r} (it has: {TOOL_NAME})",
                reason="TOOL_NOT_FOUND",
            )
        query, count = _arguments(kwargs)
        hits = (await self._search(query, count, time_left))[:count]
        return ToolResult(
            text=format_hits(query, hits),
            metadata={
                "engine": self._config.engine,
                "results": [{"title": h.title, "url": h.url, "snippet": h.snippet} for h in hits],
            },
        )

    async def _search(self, query: str, count: int, time_left: float | None) -> list[SearchHit]:
        key = self._api_key()
        timeout = min(time_left, self._config.timeout_s) if time_left is not None else self._config.timeout_s
        try:
            async with pinned_client(self._url_policy, timeout=timeout) as client:
                if self._config.engine == "brave":
                    response = await client.get(
                        f"{self._base_url}/res/v1/web/search",
                        params={"q": query, "count": count},
                        headers={"X-Subscription-Token": key, "Accept": "application/json"},
                    )
                else:
                    response = await client.post(
                        f"{self._base_url}/search", json={"api_key": key, "query": query, "max_results": count}
                    )
        except httpx.TimeoutException as exc:
            raise DeadlineExceeded(
                f"web search ({self._config.engine}) did not answer in {timeout:.1f}s", reason="SEARCH_TIMEOUT"
            ) from exc
        except httpx.HTTPError as exc:
            log.warning("web search at %s is not reachable: %s", self._base_url, exc)
            raise Unavailable(
                f"web search ({self._config.engine}) is not reachable: {type(exc).__name__}",
                reason="SEARCH_UNAVAILABLE",
            ) from exc
        body = self._checked_body(response)
        return _brave_hits(body) if self._config.engine == "brave" else _tavily_hits(body)

    def _checked_body(self, response: httpx.Response) -> dict[str, Any]:
        """The JSON body of a successful answer; HTTP errors as mesh errors (the body is not echoed: it may hold the
        key)."""
        name = f"web search ({self._config.engine})"
        status = response.status_code
        if status in (401, 403):
            raise FailedPrecondition(f"{name} refused the API key (HTTP {status})", reason="API_KEY_REJECTED")
        if status == 429:
            raise Unavailable(f"{name} is rate limiting this key (HTTP 429)", reason="SEARCH_RATE_LIMITED")
        if status >= 500:
            raise Unavailable(f"{name} failed (HTTP {status})", reason="SEARCH_UNAVAILABLE")
        if status != 200:
            raise FailedPrecondition(f"{name} refused the request (HTTP {status})", reason="SEARCH_REFUSED")
        try:
            body = response.json()
        except ValueError as exc:
            raise Unavailable(f"{name} answered something other than JSON", reason="SEARCH_UNAVAILABLE") from exc
        if not isinstance(body, dict):
            raise Unavailable(f"{name} answered an unexpected JSON shape", reason="SEARCH_UNAVAILABLE")
        return body
