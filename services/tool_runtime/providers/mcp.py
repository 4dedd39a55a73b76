"""`remote::model-context-protocol`: tool groups served by an MCP server, listed and called with the official `mcp`
SDK over Streamable HTTP or, for older servers, SSE (`args.transport: sse` on the tool group, or an endpoint path
ending in /sse). Each operation opens its own client session: tool groups are few and calls are not hot.

Before any connection the endpoint goes through the runtime's SSRF guard (llama_mesh/runtime/url_fetch.py): a host
that is or resolves to a private, loopback or link-local address is refused (at registration, and on every later call)
unless the provider config trusts it (`allowed_hosts`) or all private endpoints (`allow_private_endpoints`); the SDK's
HTTP client connects only to the address that was checked (no second lookup a rebinding name could answer).

Whoever registered the tool group chose its server, so what the server sends is read through caps: at most
MAX_RESPONSE_BYTES of one answer (an HTTP response body, or one event of an event stream; nothing compressed), see
llama_mesh/runtime/response_caps.py, and of tools/list at most MAX_TOOL_LIST_PAGES pages of MAX_TOOLS tools in all, each
of at most MAX_TOOL_BYTES of JSON.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlparse

import httpx2
import jsonschema
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from pydantic import BaseModel, ConfigDict, Field, field_validator

from llama.common.v1 import resources_pb2
from llama_mesh.runtime.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    MeshError,
    NotFound,
    Unavailable,
)
from llama_mesh.runtime.response_caps import ResponseCap
from llama_mesh.runtime.url_fetch import UrlPolicy, check_public_url, pinned_client_factory, split_hosts
from services.tool_runtime.provider import ToolResult, ToolRuntimeProvider, ToolSpec

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 60.0
# What a tool group's MCP server (whoever registered it chose it) may list: pages of tools/list, tools in all, and
# the JSON of one tool's definition (name, description, input schema...).
MAX_TOOL_LIST_PAGES = 64
MAX_TOOLS = 1024
MAX_TOOL_BYTES = 64 * 1024
# What the server may send in one answer (a page of tools/list, a tool's result, any other reply): the body of one HTTP
# response, or one event of an event stream. 64 pages of it hold 1024 tools of 64 KiB.
MAX_RESPONSE_BYTES = 1024 * 1024
ENDPOINT_FIELD = "tool_group.mcp_endpoint.uri"
TRANSPORTS = ("streamable-http", "sse")


class McpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Hosts (names or IP literals, as written in endpoint URLs) trusted even where they resolve to private,
    # loopback or link-local addresses; a comma-separated string is accepted (one environment variable).
    allowed_hosts: list[str] = Field(default_factory=list)
    # Trust every private endpoint: only where the tool_runtime's network holds nothing to protect.
    allow_private_endpoints: bool = False
    # The most one session with a server (connect, initialize, list the tools or call one) may take, whatever deadline
    # the caller gave: a server that stalls holds a call no longer than this.
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0, le=3600)

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return split_hosts(value)


def _endpoint(tool_group: resources_pb2.ToolGroup) -> str:
    uri = tool_group.mcp_endpoint.uri
    if not uri.startswith(("http://", "https://")):
        raise InvalidArgument(ENDPOINT_FIELD, "an http(s) URL of an MCP server is required")
    return uri


def _transport(tool_group: resources_pb2.ToolGroup, uri: str) -> str:
    """`args.transport` when the tool group names one, else SSE for an endpoint path ending in /sse."""
    named = tool_group.args.fields.get("transport")
    if named is not None:
        if named.string_value not in TRANSPORTS:
            raise InvalidArgument("tool_group.args.transport", f"must be one of {', '.join(TRANSPORTS)}")
        return named.string_value
    return "sse" if urlparse(uri).path.rstrip("/").endswith("/sse") else "streamable-http"


def _response_cap(uri: str) -> ResponseCap:
    return ResponseCap(
        MAX_RESPONSE_BYTES,
        lambda: FailedPrecondition(
            f"MCP server {uri} sent an answer (a response body, or one event of its event stream) of more than "
            f"{MAX_RESPONSE_BYTES} bytes, the most read: serve smaller pages of tools/list, or smaller tool results",
            reason="MCP_RESPONSE_TOO_LARGE",
        ),
        lambda encoding: FailedPrecondition(
            f"MCP server {uri} sent a compressed answer ({encoding}) where none was asked for (Accept-Encoding: "
            "identity): its size could not be capped before reading it",
            reason="MCP_RESPONSE_COMPRESSED",
        ),
    )


def _client(uri: str, transport: str, timeout: float, policy: UrlPolicy, cap: ResponseCap) -> Client:
    factory = pinned_client_factory(policy, cap)
    if transport == "sse":
        return Client(
            sse_client(uri, timeout=timeout, sse_read_timeout=timeout, httpx_client_factory=factory),
            read_timeout_seconds=timeout,
        )
    return Client(_streamable_http(uri, factory(timeout=httpx2.Timeout(timeout))), read_timeout_seconds=timeout)


@asynccontextmanager
async def _streamable_http(uri: str, http_client: httpx2.AsyncClient) -> AsyncIterator[Any]:
    """The Streamable HTTP transport over `http_client`, closed with it (the SDK leaves a given client open)."""
    async with http_client, streamable_http_client(uri, http_client=http_client) as streams:
        yield streams


@asynccontextmanager
async def _session(
    tool_group: resources_pb2.ToolGroup, time_left: float | None, config: McpConfig
) -> AsyncIterator[Client]:
    """A connected client for an endpoint the guard allows; a server that cannot be reached (or answers garbage) is
    UNAVAILABLE."""
    uri = _endpoint(tool_group)
    transport = _transport(tool_group, uri)
    policy = UrlPolicy(
        ENDPOINT_FIELD,
        "MCP_SERVER_UNAVAILABLE",
        Unavailable,
        allowed_hosts=frozenset(config.allowed_hosts),
        allow_private=config.allow_private_endpoints,
    )
    await check_public_url(uri, policy)
    timeout = min(time_left, config.timeout_s) if time_left is not None else config.timeout_s
    cap = _response_cap(uri)
    try:
        async with asyncio.timeout(timeout):
            async with _client(uri, transport, timeout, policy, cap) as client:
                yield client
    except Exception as exc:  # its text may name the address the host resolved to: the log has it
        # An answer past the cap, whatever the SDK made of it (an error of its own, a session that waited for a
        # reply it dropped), else a refusal raised inside the session, wrapped by the SDK's task groups.
        refusal = cap.refusal or _mesh_error(exc)
        if refusal is exc:
            raise
        if refusal is not None:
            raise refusal from exc
        if isinstance(exc, TimeoutError):
            raise DeadlineExceeded(
                f"MCP server {uri} did not answer in {timeout:.1f}s (the call's deadline, or the provider's timeout_s "
                f"of {config.timeout_s:g}s, whichever comes first)",
                reason="MCP_TIMEOUT",
            ) from exc
        log.warning("MCP server %s of tool group %s is not reachable: %r", uri, tool_group.identifier, exc)
        raise Unavailable(
            f"MCP server {uri} of tool group {tool_group.identifier!r} is not reachable ({type(exc).__name__})",
            reason="MCP_SERVER_UNAVAILABLE",
        ) from exc
    if cap.refusal is not None:  # an answer past the cap that the SDK swallowed: the operation fails all the same
        raise cap.refusal


def _mesh_error(error: BaseException) -> MeshError | None:
    """The first MeshError in `error`, an exception group nested any depth."""
    if isinstance(error, MeshError):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _mesh_error(inner)
            if found is not None:
                return found
    return None


async def _all_tools(client: Client, uri: str) -> list[Any]:
    """Every tool the server lists, page after page; FAILED_PRECONDITION past MAX_TOOL_LIST_PAGES, MAX_TOOLS or a
    tool of more than MAX_TOOL_BYTES."""
    tools: list[Any] = []
    cursor: str | None = None
    for _ in range(MAX_TOOL_LIST_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        if len(tools) > MAX_TOOLS:
            raise FailedPrecondition(
                f"MCP server {uri} lists more than {MAX_TOOLS} tools, the most a tool group may have: serve fewer",
                reason="MCP_TOO_MANY_TOOLS",
            )
        for tool in page.tools:
            size = len(tool.model_dump_json(by_alias=True, exclude_none=True))
            if size > MAX_TOOL_BYTES:
                raise FailedPrecondition(
                    f"MCP server {uri} lists tool {tool.name[:64]!r} of {size} bytes of JSON; a tool may have "
                    f"{MAX_TOOL_BYTES}: shorten its description or input schema",
                    reason="MCP_TOOL_TOO_LARGE",
                )
        cursor = page.next_cursor
        if not cursor:
            return tools
    raise FailedPrecondition(
        f"MCP server {uri} lists its tools in more than {MAX_TOOL_LIST_PAGES} pages, the most read: serve bigger pages",
        reason="MCP_TOO_MANY_TOOLS",
    )


def _spec(tool: Any) -> ToolSpec:
    metadata = {"annotations": tool.annotations.model_dump(exclude_none=True)} if tool.annotations else {}
    return ToolSpec(
        name=tool.name, description=tool.description or "", parameters=dict(tool.input_schema), metadata=metadata
    )


def _result_text(result: Any) -> str:
    parts = [item.text for item in result.content if getattr(item, "type", "") == "text"]
    return "\n".join(parts)


class McpRuntime(ToolRuntimeProvider):
    def __init__(self, config: McpConfig) -> None:
        self._config = config

    async def prepare(self, tool_group: resources_pb2.ToolGroup) -> None:
        async with _session(tool_group, None, self._config) as client:
            await _all_tools(client, tool_group.mcp_endpoint.uri)

    async def list_tools(self, tool_group: resources_pb2.ToolGroup, time_left: float | None) -> list[ToolSpec]:
        async with _session(tool_group, time_left, self._config) as client:
            return [_spec(tool) for tool in await _all_tools(client, tool_group.mcp_endpoint.uri)]

    async def invoke(
        self, tool_group: resources_pb2.ToolGroup, tool_name: str, kwargs: dict[str, Any], time_left: float | None
    ) -> ToolResult:
        # Errors are raised after the session closes: raised inside, the SDK's task group would wrap them.
        async with _session(tool_group, time_left, self._config) as client:
            tools = {tool.name: tool for tool in await _all_tools(client, tool_group.mcp_endpoint.uri)}
            refusal = _refusal(tool_group, tools, tool_name, kwargs)
            result = None if refusal else await client.call_tool(tool_name, kwargs)
        if refusal is not None:
            raise refusal
        assert result is not None
        text = _result_text(result)
        if result.is_error:
            return ToolResult(error_message=text or f"tool {tool_name!r} failed")
        return ToolResult(text=text)


def _refusal(
    tool_group: resources_pb2.ToolGroup, tools: dict[str, Any], tool_name: str, kwargs: dict[str, Any]
) -> MeshError | None:
    """Why the call must not be made: an unknown tool, or arguments that do not match its schema."""
    tool = tools.get(tool_name)
    if tool is None:
        return NotFound(
            f"MCP tool group {tool_group.identifier!r} has no tool {tool_name!r} (it has: {', '.join(tools)})",
            reason="TOOL_NOT_FOUND",
        )
    try:
        jsonschema.validate(kwargs, dict(tool.input_schema))
    except jsonschema.ValidationError as exc:
        return InvalidArgument("kwargs", exc.message, reason="TOOL_ARGUMENTS_INVALID")
    return None
