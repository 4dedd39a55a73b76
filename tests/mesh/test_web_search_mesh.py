"""`builtin::websearch` (remote::web-search) in the default distribution.

The real Brave Search and Tavily services are unreachable here, so the peer is a local stand-in HTTP server on
127.0.0.1, started by the test, that speaks the Brave-style (`GET /res/v1/web/search`, `X-Subscription-Token`) or
Tavily-style (`POST /search` with `api_key` in the JSON body) API and records the key it received.
"""

from __future__ import annotations

import asyncio
import gzip
import http.server
import json
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import grpc
import pytest
from google.protobuf import struct_pb2

from llama.common.v1 import resources_pb2
from llama.tool_runtime.v1 import tool_runtime_pb2 as pb
from llama.tool_runtime.v1 import tool_runtime_pb2_grpc
from llama_mesh.launcher import LocalMesh, isolated_env
from llama_mesh.runtime.errors import DeadlineExceeded, FailedPrecondition, Unavailable
from services.tool_runtime.providers.web_search import MAX_REPLY_BYTES, WebSearchConfig, WebSearchRuntime
from tests.mesh.helpers import expect_error, reason_and_field

WEBSEARCH = "builtin::websearch"
RESULTS = [
    {"title": "Kiwi (bird)", "url": "https://example.org/kiwi", "snippet": "Kiwis are flightless birds."},
    {"title": "Kiwifruit", "url": "https://example.org/fruit", "snippet": "A fuzzy fruit."},
]


class _SearchStandIn(http.server.BaseHTTPRequestHandler):
    """Brave-style GET and Tavily-style POST; records (key, query, count) of each request. With `hostile` set, it
    answers every request so instead (see `_answer_hostile`)."""

    received: list[tuple[str, str, int]] = []
    status = 200
    hostile = ""
    sent = 0  # bytes of a hostile answer's body written
    cut_off = threading.Event()  # the client hung up before the end of a hostile answer

    def _answer(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer_hostile(self) -> None:
        """`huge`: 64 MiB of JSON with no Content-Length, in 64 KiB writes; `announced`: a Content-Length of 64 MiB;
        `gzip`: a compressed body none asked for; `deep`: JSON nested 100,000 deep; `odd`: results of odd shapes;
        `trickle`: a space every 0.1 s until the client hangs up."""
        bodies = {
            "gzip": gzip.compress(json.dumps({"web": {"results": []}}).encode()),
            "deep": b"[" * 100_000 + b"]" * 100_000,
            "odd": b'{"web": {"results": [1, "x", null, {"title": 5, "url": "https://a.example", '
            b'"description": "\\ud800 ok"}]}}',
        }
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if self.hostile == "gzip":
            self.send_header("Content-Encoding", "gzip")
        if self.hostile in bodies:
            self.send_header("Content-Length", str(len(bodies[self.hostile])))
            self.end_headers()
            self.wfile.write(bodies[self.hostile])
            return
        if self.hostile == "trickle":  # a byte at a time, each well within a read timeout, never ending
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                while not type(self).cut_off.wait(0.1):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    type(self).sent += 1
            except OSError:
                type(self).cut_off.set()
            return
        total = 64 * 1024 * 1024
        if self.hostile == "announced":
            self.send_header("Content-Length", str(total))
        self.send_header("Connection", "close")
        self.end_headers()
        piece = b'{"title": "' + b"x" * (64 * 1024 - 16) + b'"},'
        try:
            self.wfile.write(b'{"web": {"results": [')
            while type(self).sent < total:
                self.wfile.write(piece)
                type(self).sent += len(piece)
        except OSError:
            type(self).cut_off.set()

    def do_GET(self) -> None:
        if self.hostile:
            self._answer_hostile()
            return
        url = urlparse(self.path)
        assert url.path == "/res/v1/web/search"
        params = parse_qs(url.query)
        self.received.append((self.headers.get("X-Subscription-Token", ""), params["q"][0], int(params["count"][0])))
        results = [{"title": r["title"], "url": r["url"], "description": r["snippet"]} for r in RESULTS]
        self._answer({"web": {"results": results}})

    def do_POST(self) -> None:
        if self.hostile:
            self._answer_hostile()
            return
        assert self.path == "/search"
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((body.get("api_key", ""), body["query"], body["max_results"]))
        results = [{"title": r["title"], "url": r["url"], "content": r["snippet"]} for r in RESULTS]
        self._answer({"query": body["query"], "results": results})

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def search_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SearchStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def fresh_server_state() -> None:
    _SearchStandIn.received.clear()
    _SearchStandIn.status = 200
    _SearchStandIn.hostile = ""
    _SearchStandIn.sent = 0
    _SearchStandIn.cut_off.clear()


@pytest.fixture(scope="module")
def tools(
    search_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tool_runtime_pb2_grpc.ToolRuntimeServiceStub]:
    """Only the gateway and tool_runtime of local-cpu (no models needed), the provider pointed at the stand-in."""
    root = tmp_path_factory.mktemp("websearch")
    env = {**isolated_env(root / "data"), "LLAMA_MESH_WEB_SEARCH_URL": search_server}
    mesh = LocalMesh("local-cpu", env=env, log_dir=root / "logs")
    mesh.start(timeout=120, only={"gateway", "tool_runtime"})
    try:
        with grpc.insecure_channel(mesh.gateway_address) as channel:
            yield tool_runtime_pb2_grpc.ToolRuntimeServiceStub(channel)
    finally:
        mesh.stop()


def _search(query: str, max_results: int) -> pb.InvokeToolRequest:
    kwargs = struct_pb2.Struct()
    kwargs.update({"query": query, "max_results": max_results})
    return pb.InvokeToolRequest(tool_group_id=WEBSEARCH, tool_name="web_search", kwargs=kwargs)


def _key(engine: str, key: str) -> tuple[tuple[str, str], ...]:
    return (("x-llama-mesh-provider-data", json.dumps({f"{engine}_api_key": key})),)


def test_websearch_is_preregistered_with_one_tool(tools) -> None:
    reply = tools.ListRuntimeTools(pb.ListRuntimeToolsRequest(tool_group_id=WEBSEARCH))
    assert [tool.definition.name for tool in reply.tools] == ["web_search"]
    assert reply.tools[0].definition.parameters["required"] == ["query"]


def test_results_are_formatted_and_the_request_key_reaches_the_api(tools) -> None:
    reply = tools.InvokeTool(_search("kiwi", 2), metadata=_key("brave", "brave-key-123"))
    assert not reply.error_message
    assert _SearchStandIn.received == [("brave-key-123", "kiwi", 2)]
    assert "[1] Kiwi (bird)\nURL: https://example.org/kiwi\nKiwis are flightless birds." in reply.content.text
    assert "[2] Kiwifruit" in reply.content.text
    assert reply.metadata["engine"] == "brave"
    assert [hit["url"] for hit in reply.metadata["results"]] == [r["url"] for r in RESULTS]


def test_no_key_is_a_failed_precondition_that_says_how_to_send_one(tools) -> None:
    error = expect_error(lambda: tools.InvokeTool(_search("kiwi", 1)), grpc.StatusCode.FAILED_PRECONDITION)
    assert reason_and_field(error)[0] == "API_KEY_MISSING"
    assert "brave_api_key" in error.details() and "x-llama-mesh-provider-data" in error.details()
    assert _SearchStandIn.received == []


def test_rejected_key_and_server_errors_are_mapped(tools) -> None:
    _SearchStandIn.status = 401
    error = expect_error(
        lambda: tools.InvokeTool(_search("kiwi", 1), metadata=_key("brave", "bad-key")),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert reason_and_field(error)[0] == "API_KEY_REJECTED" and "bad-key" not in error.details()
    _SearchStandIn.status = 503
    error = expect_error(
        lambda: tools.InvokeTool(_search("kiwi", 1), metadata=_key("brave", "k")), grpc.StatusCode.UNAVAILABLE
    )
    assert reason_and_field(error)[0] == "SEARCH_UNAVAILABLE"


def test_bad_arguments_name_the_field(tools) -> None:
    error = expect_error(
        lambda: tools.InvokeTool(_search("kiwi", 99), metadata=_key("brave", "k")), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert reason_and_field(error) == ("INVALID_ARGUMENT", "kwargs.max_results")


def _group() -> resources_pb2.ToolGroup:
    return resources_pb2.ToolGroup(identifier=WEBSEARCH, provider_id="web-search")


def test_tavily_style_api_gets_the_configured_key_in_the_body(search_server: str) -> None:
    runtime = WebSearchRuntime(WebSearchConfig(engine="tavily", base_url=search_server, api_key="tvly-config"))
    result = asyncio.run(runtime.invoke(_group(), "web_search", {"query": "kiwi", "max_results": 1.0}, 10.0))
    assert _SearchStandIn.received == [("tvly-config", "kiwi", 1)]
    assert result.text.startswith("web_search found 1 results for 'kiwi':\n\n[1] Kiwi (bird)")
    assert result.metadata["engine"] == "tavily"


def test_unreachable_api_is_unavailable() -> None:
    runtime = WebSearchRuntime(WebSearchConfig(engine="tavily", base_url="http://127.0.0.1:9", api_key="k"))
    with pytest.raises(Unavailable):
        asyncio.run(runtime.invoke(_group(), "web_search", {"query": "kiwi"}, 5.0))
    with pytest.raises(FailedPrecondition):
        asyncio.run(WebSearchRuntime(WebSearchConfig()).invoke(_group(), "web_search", {"query": "q"}, 5.0))


def test_an_answer_past_its_cap_is_refused_and_its_reading_stops(tools) -> None:
    _SearchStandIn.hostile = "huge"
    error = expect_error(
        lambda: tools.InvokeTool(_search("kiwi", 1), metadata=_key("brave", "k")), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert reason_and_field(error)[0] == "SEARCH_RESPONSE_TOO_LARGE"
    assert str(MAX_REPLY_BYTES) in error.details()
    assert _SearchStandIn.cut_off.wait(30)  # the service hung up instead of reading the 64 MiB
    assert _SearchStandIn.sent < 64 * 1024 * 1024
    _SearchStandIn.hostile = ""
    assert "[1] Kiwi (bird)" in tools.InvokeTool(_search("kiwi", 1), metadata=_key("brave", "k")).content.text


@pytest.mark.parametrize(
    ("hostile", "error_type", "reason"),
    [
        ("announced", FailedPrecondition, "SEARCH_RESPONSE_TOO_LARGE"),
        ("gzip", FailedPrecondition, "SEARCH_RESPONSE_COMPRESSED"),
        ("deep", Unavailable, "SEARCH_UNAVAILABLE"),
    ],
)
def test_a_hostile_answer_is_a_clear_error(search_server: str, hostile: str, error_type: type, reason: str) -> None:
    _SearchStandIn.hostile = hostile
    runtime = WebSearchRuntime(WebSearchConfig(base_url=search_server, api_key="k"))
    with pytest.raises(error_type) as raised:
        asyncio.run(runtime.invoke(_group(), "web_search", {"query": "kiwi"}, 10.0))
    assert raised.value.reason == reason
    if hostile == "announced":  # refused on its headers: the client hung up without reading the 64 MiB
        assert _SearchStandIn.cut_off.wait(30) and _SearchStandIn.sent < 64 * 1024 * 1024


def test_results_of_odd_shapes_are_skipped_or_emptied(search_server: str) -> None:
    _SearchStandIn.hostile = "odd"
    runtime = WebSearchRuntime(WebSearchConfig(base_url=search_server, api_key="k"))
    result = asyncio.run(runtime.invoke(_group(), "web_search", {"query": "kiwi", "max_results": 5}, 10.0))
    assert result.text == "web_search found 1 results for 'kiwi':\n\n[1] \nURL: https://a.example\n? ok"
    assert result.metadata["results"] == [{"title": "", "url": "https://a.example", "snippet": "? ok"}]


def test_an_answer_that_trickles_in_ends_at_the_timeout(search_server: str) -> None:
    """httpx's timeout bounds each read, and a byte every 0.1 s met every one: the answer held the call for ever."""
    _SearchStandIn.hostile = "trickle"
    runtime = WebSearchRuntime(WebSearchConfig(base_url=search_server, api_key="k", timeout_s=1))

    async def search() -> None:
        # the outer bound only keeps a regression from hanging the suite; the provider must end it long before
        await asyncio.wait_for(runtime.invoke(_group(), "web_search", {"query": "kiwi"}, 900.0), 120)

    with pytest.raises(DeadlineExceeded) as raised:
        asyncio.run(search())
    assert raised.value.reason == "SEARCH_TIMEOUT"
    assert _SearchStandIn.sent > 0
    assert _SearchStandIn.cut_off.wait(30)  # the client hung up; the stand-in's handler has ended
