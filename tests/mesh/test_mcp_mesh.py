"""MCP tool groups beyond Streamable HTTP: the SSE transport against a real FastMCP-style server, the SSRF guard
on MCP endpoints, and the caps on what a server sends. The mesh (tests/conftest.py) trusts the host 127.0.0.1 by
name (allowed_hosts); every other host that resolves to a private address, `localhost` included, stays refused."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator

import grpc
import pytest

from llama.common.v1 import resources_pb2
from llama.registry.v1 import registry_pb2
from llama.tool_runtime.v1 import tool_runtime_pb2 as pb
from llama_mesh.runtime.errors import DeadlineExceeded
from services.tool_runtime.providers.mcp import (
    MAX_RESPONSE_BYTES,
    MAX_TOOL_BYTES,
    MAX_TOOL_LIST_PAGES,
    MAX_TOOLS,
    McpConfig,
    McpRuntime,
)
from tests.mesh.helpers import expect_error, reason_and_field, struct
from tests.mesh.mcp_hostile_server import HostileMcpServer
from tests.mesh.mcp_servers import mcp_add_server, mcp_paged_server


def register(registry, identifier: str, uri: str, **args: object) -> resources_pb2.ToolGroup:
    tool_group = resources_pb2.ToolGroup(
        identifier=identifier,
        provider_id="model-context-protocol",
        mcp_endpoint=resources_pb2.McpEndpoint(uri=uri),
        args=struct(**args),
    )
    return registry.RegisterToolGroup(registry_pb2.RegisterToolGroupRequest(tool_group=tool_group))


def unregister(registry, identifier: str) -> None:
    registry.UnregisterToolGroup(registry_pb2.UnregisterToolGroupRequest(tool_group_id=identifier))


def add(tools, tool_group_id: str, a: int, b: int) -> pb.InvokeToolResponse:
    return tools.InvokeTool(pb.InvokeToolRequest(tool_group_id=tool_group_id, tool_name="add", kwargs=struct(a=a, b=b)))


@pytest.fixture(scope="module")
def sse_endpoint() -> Iterator[str]:
    with mcp_add_server("sse") as endpoint:
        yield endpoint


def test_mcp_over_sse_by_endpoint_path(registry, tools, sse_endpoint: str) -> None:
    register(registry, "mcp::sse-adder", sse_endpoint)
    try:
        listed = tools.ListRuntimeTools(pb.ListRuntimeToolsRequest(tool_group_id="mcp::sse-adder"))
        assert [tool.definition.name for tool in listed.tools] == ["add"]
        reply = add(tools, "mcp::sse-adder", 20, 22)
        assert not reply.error_message and reply.content.text == "42"
    finally:
        unregister(registry, "mcp::sse-adder")


def test_mcp_transport_named_in_the_tool_group_args(registry, tools, sse_endpoint: str) -> None:
    # args.transport wins over the endpoint's path: named sse works, named streamable-http cannot talk to this server.
    endpoint = sse_endpoint
    register(registry, "mcp::named-sse", endpoint, transport="sse")
    try:
        assert add(tools, "mcp::named-sse", 1, 2).content.text == "3"
    finally:
        unregister(registry, "mcp::named-sse")
    # Refused, nothing stored.
    expect_error(
        lambda: register(registry, "mcp::wrong-transport", endpoint, transport="streamable-http"),
        grpc.StatusCode.UNAVAILABLE,
    )
    error = expect_error(
        lambda: register(registry, "mcp::odd-transport", endpoint, transport="carrier-pigeon"),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert reason_and_field(error)[1] == "tool_group.args.transport"
    for identifier in ("mcp::wrong-transport", "mcp::odd-transport"):
        expect_error(
            lambda identifier=identifier: registry.GetToolGroup(
                registry_pb2.GetToolGroupRequest(tool_group_id=identifier)
            ),
            grpc.StatusCode.NOT_FOUND,
        )


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    """Stands where an internal service would be: records every request it gets."""

    requests: list[str] = []

    def _record(self) -> None:
        self.requests.append(f"{self.command} {self.path}")
        self.send_response(200)
        self.end_headers()

    do_GET = do_POST = _record  # noqa: N815 - http.server API

    def log_message(self, *args: object) -> None:
        pass


def test_private_mcp_endpoint_is_refused_before_any_connection(registry) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RecordingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        # localhost resolves to loopback and is not in allowed_hosts; the others are private or link-local literals.
        for uri in (
            f"http://localhost:{port}/mcp",
            f"http://localhost:{port}/sse",
            "http://10.0.0.7/mcp",
            "http://169.254.169.254/latest/sse",
            "http://[::1]:1/mcp",
        ):
            error = expect_error(
                lambda uri=uri: register(registry, "mcp::internal", uri), grpc.StatusCode.INVALID_ARGUMENT
            )
            assert reason_and_field(error) == ("URL_NOT_ALLOWED", "tool_group.mcp_endpoint.uri")
        assert _RecordingHandler.requests == []
        expect_error(
            lambda: registry.GetToolGroup(registry_pb2.GetToolGroupRequest(tool_group_id="mcp::internal")),
            grpc.StatusCode.NOT_FOUND,
        )
        # The same server by its trusted name is contacted (it is no MCP server, so registration fails there).
        expect_error(
            lambda: register(registry, "mcp::internal", f"http://127.0.0.1:{port}/mcp"), grpc.StatusCode.UNAVAILABLE
        )
        assert _RecordingHandler.requests, "the trusted host was not contacted"
    finally:
        server.shutdown()
        server.server_close()


def test_mcp_tool_lists_past_their_caps_are_refused(registry, tools) -> None:
    # every page of tools/list, every tool and any size of schema were read from the server the caller registered
    with mcp_paged_server(pages=3, tools_per_page=5) as endpoint:
        register(registry, "mcp::paged", endpoint)
        try:
            listed = tools.ListRuntimeTools(pb.ListRuntimeToolsRequest(tool_group_id="mcp::paged", page_size=100))
            assert len(listed.tools) == 15 and not listed.next_page_token
        finally:
            unregister(registry, "mcp::paged")
    for pages, tools_per_page, schema_bytes, reason in (
        (MAX_TOOL_LIST_PAGES + 1, 1, 0, "MCP_TOO_MANY_TOOLS"),
        (2, MAX_TOOLS // 2 + 1, 0, "MCP_TOO_MANY_TOOLS"),
        (1, 1, MAX_TOOL_BYTES, "MCP_TOOL_TOO_LARGE"),
    ):
        with mcp_paged_server(pages, tools_per_page, schema_bytes) as endpoint:
            error = expect_error(
                lambda: register(registry, "mcp::too-big", endpoint), grpc.StatusCode.FAILED_PRECONDITION
            )
        assert reason_and_field(error)[0] == reason, error.details()
        expect_error(
            lambda: registry.GetToolGroup(registry_pb2.GetToolGroupRequest(tool_group_id="mcp::too-big")),
            grpc.StatusCode.NOT_FOUND,
        )


@pytest.mark.parametrize("transport", ["json", "event-stream", "sse"])
def test_an_mcp_answer_past_its_cap_is_cut_off(registry, tools, transport: str) -> None:
    """One answer of the server the caller named (a page of tools/list, a tool's result) was read whole into memory,
    of any size: it is read up to MAX_RESPONSE_BYTES, in a JSON body or in one event of an event stream, and the
    service hangs up on the rest (the server's record says it could not send it all) and serves on."""
    size = 64 * MAX_RESPONSE_BYTES

    def cut_off(server: HostileMcpServer, error: grpc.RpcError) -> None:
        assert reason_and_field(error)[0] == "MCP_RESPONSE_TOO_LARGE", error.details()
        assert f"more than {MAX_RESPONSE_BYTES} bytes" in error.details()
        assert server.done.wait(30) and server.cut_off and server.sent < size // 4, (server.sent, server.cut_off)

    with HostileMcpServer(transport, "tools/list", size) as server:
        cut_off(
            server,
            expect_error(
                lambda: register(registry, "mcp::huge-page", server.endpoint), grpc.StatusCode.FAILED_PRECONDITION
            ),
        )
    expect_error(
        lambda: registry.GetToolGroup(registry_pb2.GetToolGroupRequest(tool_group_id="mcp::huge-page")),
        grpc.StatusCode.NOT_FOUND,
    )
    with HostileMcpServer(transport, "tools/call", size) as server:
        register(registry, "mcp::huge-result", server.endpoint)
        try:
            call = pb.InvokeToolRequest(tool_group_id="mcp::huge-result", tool_name="echo", kwargs=struct())
            cut_off(
                server, expect_error(lambda: tools.InvokeTool(call, timeout=60), grpc.StatusCode.FAILED_PRECONDITION)
            )
            listed = tools.ListRuntimeTools(pb.ListRuntimeToolsRequest(tool_group_id="mcp::huge-result"), timeout=60)
            assert [tool.definition.name for tool in listed.tools] == ["echo"]
        finally:
            unregister(registry, "mcp::huge-result")
    with mcp_add_server() as endpoint:
        register(registry, "mcp::after-huge", endpoint)
        try:
            assert add(tools, "mcp::after-huge", 40, 2).content.text == "42"
        finally:
            unregister(registry, "mcp::after-huge")


@pytest.mark.parametrize("transport", ["json", "sse"])
def test_a_stalling_mcp_server_holds_a_call_no_longer_than_the_provider_timeout(transport: str) -> None:
    """A call with a long deadline (the gateway's default is 900 s) to a server that never answers ended only at that
    deadline: the provider's timeout_s bounds every MCP operation whatever deadline the caller gave."""
    runtime = McpRuntime(McpConfig(allowed_hosts=["127.0.0.1"], timeout_s=1))
    with HostileMcpServer(transport, "tools/call", 0, stall=True) as server:
        group = resources_pb2.ToolGroup(
            identifier="mcp::stalling",
            provider_id="model-context-protocol",
            mcp_endpoint=resources_pb2.McpEndpoint(uri=server.endpoint),
        )

        async def call() -> None:
            # the outer bound only keeps a regression from hanging the suite; the provider must end it long before
            await asyncio.wait_for(runtime.invoke(group, "echo", {}, 900.0), 120)

        with pytest.raises(DeadlineExceeded) as raised:
            asyncio.run(call())
        assert server.stalled.is_set()
    assert raised.value.reason == "MCP_TIMEOUT"
    assert "timeout_s of 1s" in str(raised.value)
