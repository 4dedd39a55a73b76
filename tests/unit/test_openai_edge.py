"""The OpenAI edge's request validation, error shapes and status mapping, without a mesh: requests that fail
validation never reach the gateway (here an address where nothing listens, which answers 503 if one did). Files and
vector stores ask the gateway who the caller is before anything else: tests/mesh/test_openai_edge_mesh.py and
tests/gateway/test_openai_edge_auth_mesh.py test them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from llama_mesh.openai_caps import MAX_KEY_CHARS, MAX_PAIRS, MAX_VALUE_CHARS, RESERVED_ATTRIBUTES
from llama_mesh.runtime.errors import InvalidArgument, MeshError, NotFound
from llama_mesh.runtime.gateway_client import GatewayClient
from services.openai_edge import sse
from services.openai_edge.app import BodyLimit, create_app
from services.openai_edge.calls import authenticated
from services.openai_edge.errors import from_mesh_error, openai_param
from services.openai_edge.routes.chat import CHAT_FIELDS
from services.openai_edge.routes.embeddings import base64_floats
from services.openai_edge.routes.vector_store_file_batches import batch_object
from services.openai_edge.settings import EdgeSettings
from services.openai_edge.stores import VectorStoreFileBatchRecord, VectorStoreFileRecord

CHAT = {"model": "m", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = EdgeSettings(max_request_bytes=4096, max_file_bytes=2048)
    app = create_app(GatewayClient("127.0.0.1:1"), settings, tmp_path, traced=False)
    with TestClient(app) as test_client:
        yield test_client


def _error(reply) -> dict:
    body = reply.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"temperature": 2.5}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"n": 3}, "n"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"top_logprobs": 21, "logprobs": True}, "top_logprobs"),
        ({"stop": ["x"] * 17}, "stop"),
        ({"presence_penalty": 1.0}, "presence_penalty"),
        ({"logit_bias": {"1": 5}}, "logit_bias"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"unknown_option": 1}, "unknown_option"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}, "response_format"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
    ],
)
def test_bad_chat_parameters_are_400s_naming_the_parameter(client: TestClient, change: dict, param: str) -> None:
    reply = client.post("/v1/chat/completions", json={**CHAT, **change})
    assert reply.status_code == 400, reply.text
    error = _error(reply)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param and error["message"].startswith(param)


def test_other_endpoints_validate_too(client: TestClient) -> None:
    reply = client.post("/v1/embeddings", json={"model": "e", "input": [[1, 2, 3]]})
    assert (reply.status_code, _error(reply)["param"]) == (400, "input")
    reply = client.post("/v1/embeddings", json={"model": "e", "input": "x", "encoding_format": "int8"})
    assert (reply.status_code, _error(reply)["param"]) == (400, "encoding_format")
    reply = client.post("/v1/completions", json={"model": "m", "prompt": ["a", "b"]})
    assert (reply.status_code, _error(reply)["param"]) == (400, "prompt")
    reply = client.post("/v1/moderations", json={"input": [{"type": "image_url", "image_url": {"url": "x"}}]})
    assert (reply.status_code, _error(reply)["param"]) == (400, "input")


def test_unknown_routes_bodies_over_the_limit_and_bad_json(client: TestClient) -> None:
    assert (client.get("/v1/nothing").status_code, _error(client.get("/v1/nothing"))["type"]) == (
        404,
        "not_found_error",
    )
    too_big = {**CHAT, "messages": [{"role": "user", "content": "x" * 5000}]}
    reply = client.post("/v1/chat/completions", json=too_big)
    assert reply.status_code == 413 and "max_request_bytes" in _error(reply)["message"]
    reply = client.post("/v1/chat/completions", content=b"{oops", headers={"content-type": "application/json"})
    assert reply.status_code == 400 and "not valid JSON" in _error(reply)["message"]


def test_an_unreachable_gateway_is_a_503_without_a_traceback(client: TestClient) -> None:
    reply = client.post("/v1/chat/completions", json=CHAT)
    error = _error(reply)
    assert reply.status_code == 503 and error["type"] == "service_unavailable_error"
    assert "Traceback" not in error["message"]


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (InvalidArgument("sampling_params.max_tokens", "must be >= 0"), 400, "invalid_request_error"),
        (NotFound("no model 'x'"), 404, "not_found_error"),
    ],
)
def test_mesh_errors_map_to_http_statuses(error: MeshError, status: int, kind: str) -> None:
    mapped = from_mesh_error(error, CHAT_FIELDS)
    assert (mapped.status, mapped.kind) == (status, kind)
    if isinstance(error, InvalidArgument):
        assert mapped.param == "max_tokens" and mapped.message == "max_tokens: must be >= 0"


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (grpc.StatusCode.UNAUTHENTICATED, 401),
        (grpc.StatusCode.PERMISSION_DENIED, 403),
        (grpc.StatusCode.ALREADY_EXISTS, 409),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        (grpc.StatusCode.UNAVAILABLE, 503),
        (grpc.StatusCode.INTERNAL, 500),
    ],
)
def test_grpc_statuses_map_to_http_statuses(code: grpc.StatusCode, status: int) -> None:
    error = MeshError("failed")
    error.code = code
    error.reason = "SOMETHING_BUSY"
    mapped = from_mesh_error(error)
    assert mapped.status == status
    assert (mapped.headers.get("x-should-retry") == "false") == (status == 409)


@pytest.mark.parametrize(
    ("reason", "retried"),
    [
        ("REMOTE_RATE_LIMITED", True),
        ("TOO_MANY_REGISTRATIONS", True),
        ("REPLY_TOO_LARGE", False),
        ("RESOURCE_EXHAUSTED", False),
        ("", False),
    ],
)
def test_a_429_that_would_fail_again_tells_the_sdk_not_to_retry(reason: str, retried: bool) -> None:
    # OpenAI's SDKs retry a 429: a reply too large for a message (after all the generation) would only come again
    error = MeshError("too much")
    error.code, error.reason = grpc.StatusCode.RESOURCE_EXHAUSTED, reason
    mapped = from_mesh_error(error)
    assert mapped.status == 429 and (mapped.headers.get("x-should-retry") != "false") == retried


def test_field_paths_are_named_as_openai_parameters() -> None:
    assert openai_param("model_id", CHAT_FIELDS) == "model"
    assert openai_param("messages[2].content", CHAT_FIELDS) == "messages[2].content"
    assert openai_param("tool_choice.tool_name", CHAT_FIELDS) == "tool_choice.function.name"
    assert openai_param("sampling_params.strategy.top_p.temperature", CHAT_FIELDS) == "temperature"
    assert openai_param("something_else", CHAT_FIELDS) == "something_else"


def test_base64_embeddings_are_little_endian_float32() -> None:
    assert base64_floats([1.0, -2.5]) == "AACAPwAAIMA="


def test_an_error_after_the_stream_started_is_an_sse_error_event_without_done() -> None:
    async def events() -> AsyncIterator[dict]:
        yield {"n": 1}
        raise from_mesh_error(NotFound("the model went away"))

    async def frames() -> list[str]:
        return [frame async for frame in sse._frames(events(), done=True)]

    first, error = asyncio.run(frames())
    assert first == 'data: {"n":1}\n\n'
    assert error.startswith("event: error\ndata: ") and error.endswith("\n\n")
    body = json.loads(error.split("data: ", 1)[1])
    assert body["error"]["type"] == "not_found_error" and body["error"]["message"] == "the model went away"


def test_a_resource_the_gateway_did_not_find_names_the_parameter_that_named_it() -> None:
    error = NotFound("model 'x' is not registered", reason="RESOURCE_NOT_FOUND", kind="model", identifier="x")
    mapped = from_mesh_error(error, CHAT_FIELDS)
    assert (mapped.status, mapped.param, mapped.code) == (404, "model", "resource_not_found")


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["completed", "in_progress"], "in_progress"),
        (["completed", "cancelled", "failed"], "cancelled"),
        (["failed", "failed"], "failed"),
        (["completed", "failed"], "completed"),
        ([], "completed"),
    ],
)
def test_a_file_batch_status_comes_from_its_files(statuses: list[str], expected: str) -> None:
    """`*_and_poll` polls while `file_counts.in_progress` > 0: a batch ends once none of its files is in progress."""
    files = [VectorStoreFileRecord("vs", f"file-{index}", status, None, 0, 0) for index, status in enumerate(statuses)]
    batch = batch_object(VectorStoreFileBatchRecord("vsfb", "vs", 0, [item.file_id for item in files]), files)
    assert batch["status"] == expected
    assert batch["file_counts"]["total"] == len(statuses)
    assert batch["file_counts"]["in_progress"] == statuses.count("in_progress")


async def test_bodies_in_flight_together_are_capped_and_freed_when_their_request_ends(tmp_path: Path) -> None:
    # the edge reads a body before the gateway checks its token: unknown callers must not make it hold without end
    settings = EdgeSettings(max_request_bytes=4096, max_file_bytes=2048, max_inflight_body_bytes=1024 * 1024 + 2048)
    app = create_app(GatewayClient("127.0.0.1:1"), settings, tmp_path, traced=False)
    head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n'
    part = head + b"x" * (600 * 1024)
    first_read, release = asyncio.Event(), asyncio.Event()

    async def held_upload() -> AsyncIterator[bytes]:
        yield part
        first_read.set()  # asked for more: the first part was counted
        await release.wait()
        yield b""

    upload_headers = {"content-type": "multipart/form-data; boundary=b"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as http:
        held = asyncio.create_task(http.post("/v1/files", content=held_upload(), headers=upload_headers))
        await asyncio.wait_for(first_read.wait(), 30)
        busy = await http.post("/v1/files", content=part, headers=upload_headers)
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1", busy.text
        assert _error(busy)["code"] == "server_busy" and "max_inflight_body_bytes" in _error(busy)["message"]
        small = await http.post("/v1/chat/completions", json=CHAT)  # what is left still serves
        assert small.status_code == 503 and _error(small)["code"] != "server_busy"
        release.set()
        await held
        after = await http.post("/v1/files", content=part, headers=upload_headers)
        assert _error(after)["code"] != "server_busy", after.text


def test_the_bodies_in_flight_must_hold_one_of_the_largest() -> None:
    with pytest.raises(ValueError, match="max_inflight_body_bytes"):
        EdgeSettings(max_file_bytes=64 * 1024 * 1024, max_inflight_body_bytes=32 * 1024 * 1024)


def _search_call(attributes: dict[str, Any]) -> dict[str, Any]:
    """A file search call given back as input, its one result with `attributes`."""
    return {"type": "file_search_call", "id": "fs_1", "queries": [], "results": [{"attributes": attributes}]}


@pytest.fixture()
def trusting(tmp_path: Path) -> Iterator[TestClient]:
    """The edge with the default body limit, taking every caller as authenticated (there is no gateway to ask)."""
    app = create_app(GatewayClient("127.0.0.1:1"), EdgeSettings(), tmp_path, traced=False)
    app.dependency_overrides[authenticated] = lambda: None
    with TestClient(app) as test_client:
        yield test_client


BATCH = {"input_file_id": "file-1", "endpoint": "/v1/chat/completions", "completion_window": "24h"}
# Every body that takes OpenAI's metadata or attributes: path, the body around a mapping, the parameter it is.
TAKES_METADATA: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]], str]] = [
    ("/v1/chat/completions", lambda pairs: {**CHAT, "metadata": pairs}, "metadata"),
    ("/v1/responses", lambda pairs: {"model": "m", "input": "Hi", "metadata": pairs}, "metadata"),
    ("/v1/responses", lambda pairs: {"model": "m", "input": [_search_call(pairs)]}, "input[0].results[0].attributes"),
    ("/v1/conversations", lambda pairs: {"metadata": pairs}, "metadata"),
    ("/v1/conversations", lambda pairs: {"items": [_search_call(pairs)]}, "items[0].results[0].attributes"),
    ("/v1/conversations/conv_1", lambda pairs: {"metadata": pairs}, "metadata"),
    ("/v1/conversations/c_1/items", lambda pairs: {"items": [_search_call(pairs)]}, "items[0].results[0].attributes"),
    ("/v1/batches", lambda pairs: {**BATCH, "metadata": pairs}, "metadata"),
    ("/v1/vector_stores", lambda pairs: {"embedding_model": "e", "metadata": pairs}, "metadata"),
    ("/v1/vector_stores/vs_1", lambda pairs: {"metadata": pairs}, "metadata"),
    ("/v1/vector_stores/vs_1/files", lambda pairs: {"file_id": "file-1", "attributes": pairs}, "attributes"),
    ("/v1/vector_stores/vs_1/files/file-1", lambda pairs: {"attributes": pairs}, "attributes"),
    ("/v1/vector_stores/vs_1/file_batches", lambda pairs: {"file_ids": ["file-1"], "attributes": pairs}, "attributes"),
    (
        "/v1/vector_stores/vs_1/file_batches",
        lambda pairs: {"files": [{"file_id": "file-1", "attributes": pairs}]},
        "files[0].attributes",
    ),
]
PAST_CAPS = {
    "a long key": ({"K" * (MAX_KEY_CHARS + 1): "v"}, f"keys are at most {MAX_KEY_CHARS} characters"),
    "a long value": ({"k": "v" * (MAX_VALUE_CHARS + 1)}, f"values are at most {MAX_VALUE_CHARS} characters"),
    "too many pairs": ({f"k{index}": "v" for index in range(MAX_PAIRS + 1)}, f"at most {MAX_PAIRS} pairs"),
    "an object as a value": ({"k": {"nested": "object"}}, "the value of 'k' must be a string"),
    "null as a value": ({"k": None}, "the value of 'k' must be a string"),
}


@pytest.mark.parametrize("past", PAST_CAPS)
@pytest.mark.parametrize(("path", "body", "param"), TAKES_METADATA)
def test_metadata_and_attributes_past_openais_caps_are_400s_naming_them(
    trusting: TestClient, path: str, body: Callable[[dict[str, Any]], dict[str, Any]], param: str, past: str
) -> None:
    pairs, message = PAST_CAPS[past]
    reply = trusting.post(path, json=body(pairs))
    error = _error(reply)
    assert (reply.status_code, error["param"], error["code"]) == (400, param, "invalid_value"), error
    assert error["message"].startswith(f"{param}: {message}"), error["message"]


@pytest.mark.parametrize(("path", "body", "param"), TAKES_METADATA)
def test_metadata_and_attributes_at_openais_caps_pass(
    trusting: TestClient, path: str, body: Callable[[dict[str, Any]], dict[str, Any]], param: str
) -> None:
    """At the caps the body is read (the call then fails further on: no gateway, no such store)."""
    keys = [f"{index:02}".ljust(MAX_KEY_CHARS, "k") for index in range(MAX_PAIRS)]
    pairs: dict[str, Any] = dict.fromkeys(keys, "v" * MAX_VALUE_CHARS)
    if "attributes" in param:
        pairs |= {keys[0]: True, keys[1]: 1.5, keys[2]: -7}
    reply = trusting.post(path, json=body(pairs))
    assert reply.status_code in (404, 503), reply.text


async def test_a_body_must_arrive_within_its_time_and_a_whole_one_waits_for_its_disconnect_without_one(
    tmp_path: Path,
) -> None:
    # a caller sending a byte now and then must not hold a request open; once the body is whole, the app waits for
    # the client's disconnect (a streamed reply) as long as it streams
    settings = EdgeSettings(body_timeout_seconds=0.2)
    app = create_app(GatewayClient("127.0.0.1:1"), settings, tmp_path, traced=False)

    async def trickle() -> AsyncIterator[bytes]:
        yield b'{"model": "m", '
        await asyncio.sleep(30)  # the rest never comes in time
        yield b"}"

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://edge") as http:
        reply = await asyncio.wait_for(http.post("/v1/chat/completions", content=trickle()), 10)
    assert reply.status_code == 408 and _error(reply)["code"] == "request_timeout", reply.text
    assert "body_timeout_seconds" in _error(reply)["message"]

    seen: list[str] = []

    async def streaming_app(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass
        seen.append((await receive())["type"])  # waits for the disconnect, past the body's deadline

    disconnect = asyncio.Event()
    messages = [{"type": "http.request", "body": b"{}", "more_body": False}]

    async def client_side() -> Message:
        if messages:
            return messages.pop(0)
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def sent(message: Message) -> None:
        pass

    scope = {"type": "http", "path": "/v1/chat/completions", "headers": []}
    served = asyncio.create_task(BodyLimit(streaming_app, settings)(scope, client_side, sent))
    await asyncio.sleep(0.5)  # longer than body_timeout_seconds
    disconnect.set()
    await asyncio.wait_for(served, 10)
    assert seen == ["http.disconnect"]


# The bodies whose attributes become the metadata of a vector store file's chunks, where the mesh writes its own keys.
TAKES_FILE_ATTRIBUTES = [row for row in TAKES_METADATA if row[0].startswith("/v1/vector_stores/") and "attr" in row[2]]


@pytest.mark.parametrize("key", RESERVED_ATTRIBUTES)
@pytest.mark.parametrize(("path", "body", "param"), TAKES_FILE_ATTRIBUTES)
def test_a_files_attributes_may_not_use_the_keys_the_mesh_writes_into_its_chunks(
    trusting: TestClient, path: str, body: Callable[[dict[str, Any]], dict[str, Any]], param: str, key: str
) -> None:
    """Such an attribute would be replaced by the mesh's value in every chunk (and a search filter on it would match
    the mesh's value): a 400 naming the key, before anything is stored."""
    reply = trusting.post(path, json=body({"topic": "coast", key: "mine"}))
    error = _error(reply)
    assert (reply.status_code, error["param"], error["code"]) == (400, param, "invalid_value"), error
    assert error["message"].startswith(f"{param}: {key!r} is reserved"), error["message"]
