"""`remote::web-search`: one tool, `web_search`, answered by a Brave Search or Tavily API.

The API key comes from the provider config or, per request, from the caller's provider data
(`x-llama-mesh-provider-data: {"brave_api_key": ...}` or `tavily_api_key`). Keys are never logged or echoed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import BaseModel

from llama.common.v1 import resources_pb2
from llama_mesh.runtime.errors import DeadlineExceeded, FailedPrecondition, InvalidArgument, NotFound, Unavailable
from llama_mesh.runtime.url_fetch import UrlPolicy, check_http_url, pinned_client, read_bounded
from services.tool_runtime import provider_data
from services.tool_runtime.provider import ToolResult, ToolRuntimeProvider, ToolSpec

log = logging.getLogger(__name__)

TOOL_NAME = "web_search"
DEFAULT_URLS = {"brave": "https://api.search.brave.com", "tavily": "https://api.tavily.com"}
DEFAULT_TIMEOUT_S = 30.0
MAX_RESULTS = 20
# The most read of the search API's answer to one query (its JSON body, uncompressed): 20 results are tens of KiB.
MAX_REPLY_BYTES = 4 * 1024 * 1024

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


def _text(result: dict[str, Any], key: str) -> str:
    value = result.get(key)
    if not isinstance(value, str):
        return ""
    return value.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate ("\\ud800" in JSON) becomes "?"


def _hits(results: object, snippet_key: str) -> list[SearchHit]:
    """The results of an answer, as hits; what is not a JSON object among them is skipped, a field that is not a
    string is empty."""
    if not isinstance(results, list):
        return []
    return [
        SearchHit(_text(r, "title"), _text(r, "url"), _text(r, snippet_key)) for r in results if isinstance(r, dict)
    ]


def _brave_hits(body: dict[str, Any]) -> list[SearchHit]:
    web = body.get("web")
    return _hits(web.get("results") if isinstance(web, dict) else None, "description")


def _tavily_hits(body: dict[str, Any]) -> list[SearchHit]:
    return _hits(body.get("results"), "content")


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
        # Uncompressed answers only: a few KiB of gzip inflate past any cap before their size is known.
        headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        try:
            # httpx's timeout bounds each read; the deadline bounds the whole answer, however slowly it trickles in
            async with asyncio.timeout(timeout), pinned_client(self._url_policy, timeout=timeout) as client:
                if self._config.engine == "brave":
                    request = client.build_request(
                        "GET",
                        f"{self._base_url}/res/v1/web/search",
                        params={"q": query, "count": count},
                        headers={**headers, "X-Subscription-Token": key},
                    )
                else:
                    request = client.build_request(
                        "POST",
                        f"{self._base_url}/search",
                        json={"api_key": key, "query": query, "max_results": count},
                        headers=headers,
                    )
                response = await client.send(request, stream=True)
                try:
                    self._check_status(response.status_code)
                    content = await self._bounded_content(response)
                finally:
                    await response.aclose()
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise DeadlineExceeded(
                f"web search ({self._config.engine}) did not answer in {timeout:.1f}s", reason="SEARCH_TIMEOUT"
            ) from exc
        except httpx.HTTPError as exc:
            log.warning("web search at %s is not reachable: %s", self._base_url, exc)
            raise Unavailable(
                f"web search ({self._config.engine}) is not reachable: {type(exc).__name__}",
                reason="SEARCH_UNAVAILABLE",
            ) from exc
        body = self._json_object(content)
        return _brave_hits(body) if self._config.engine == "brave" else _tavily_hits(body)

    async def _bounded_content(self, response: httpx.Response) -> bytes:
        """The answer's body as sent, read up to MAX_REPLY_BYTES; FAILED_PRECONDITION for a compressed one (none was
        asked for) or one past the cap, refused as soon as its headers or its bytes show it."""
        name = f"web search ({self._config.engine})"
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise FailedPrecondition(
                f"{name} sent a compressed answer ({encoding[:32]}) where none was asked for (Accept-Encoding: "
                "identity): its size could not be capped before reading it",
                reason="SEARCH_RESPONSE_COMPRESSED",
            )
        too_large = FailedPrecondition(
            f"{name} answered with more than {MAX_REPLY_BYTES} bytes, the most read of one search",
            reason="SEARCH_RESPONSE_TOO_LARGE",
        )
        announced = response.headers.get("content-length", "")
        if announced.isdigit() and int(announced) > MAX_REPLY_BYTES:
            raise too_large
        return await read_bounded(response.aiter_raw(), MAX_REPLY_BYTES, lambda: too_large)

    def _check_status(self, status: int) -> None:
        """HTTP errors as mesh errors (the body is not read, nor echoed: it may hold the key)."""
        name = f"web search ({self._config.engine})"
        if status in (401, 403):
            raise FailedPrecondition(f"{name} refused the API key (HTTP {status})", reason="API_KEY_REJECTED")
        if status == 429:
            raise Unavailable(f"{name} is rate limiting this key (HTTP 429)", reason="SEARCH_RATE_LIMITED")
        if status >= 500:
            raise Unavailable(f"{name} failed (HTTP {status})", reason="SEARCH_UNAVAILABLE")
        if status != 200:
            raise FailedPrecondition(f"{name} refused the request (HTTP {status})", reason="SEARCH_REFUSED")

    def _json_object(self, content: bytes) -> dict[str, Any]:
        name = f"web search ({self._config.engine})"
        try:
            body = json.loads(content)
        except (ValueError, RecursionError) as exc:  # bytes no UTF-8 decodes, or nested deeper than the reader goes
            raise Unavailable(f"{name} answered something other than JSON", reason="SEARCH_UNAVAILABLE") from exc
        if not isinstance(body, dict):
            raise Unavailable(f"{name} answered an unexpected JSON shape", reason="SEARCH_UNAVAILABLE")
        return body
