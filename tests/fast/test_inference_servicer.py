"""InferenceService in-process over a fake engine: the servicer's parsing, streaming and packing of chunks, usage and
stop reason, with no model loaded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from llama.common.v1 import content_pb2, messages_pb2, resources_pb2, sampling_pb2, tools_pb2
from llama.inference.v1 import inference_pb2 as pb
from llama.inference.v1 import inference_pb2_grpc
from llama_mesh.runtime.channels import MAX_MESSAGE_BYTES
from llama_mesh.runtime.errors import error_info
from services.inference.provider import EngineStats, GenerationChunk, GenerationRequest, TextEngine, TokenLogprob
from services.inference.providers import InferenceProvider, ModelEntry, ProviderSet
from services.inference.servicer import InferenceServicer
from tests.fast.harness import as_resolved, connected

REPLY = ["Hel", "lo", " there"]


class ScriptedEngine(TextEngine):
    """Answers every prompt with REPLY, one piece per chunk; remembers the prompts it was given."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    @property
    def context_length(self) -> int:
        return 4096

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def render_chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>"

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        self.prompts.append(request.prompt)
        prompt_tokens = self.count_tokens(request.prompt)
        for index, piece in enumerate(REPLY):
            last = index == len(REPLY) - 1
            yield GenerationChunk(piece, 1, prompt_tokens, index + 1, finish_reason="stop" if last else None)

    def stats(self) -> EngineStats:
        return EngineStats(running_requests=0, waiting_requests=0)


MODEL = resources_pb2.Model(
    identifier="scripted",
    provider_id="fake",
    provider_resource_id="scripted-1",
    model_type=resources_pb2.MODEL_TYPE_LLM,
)


@pytest.fixture
def engine() -> ScriptedEngine:
    return ScriptedEngine()


def _servicer(engine: ScriptedEngine) -> InferenceServicer:
    provider = InferenceProvider("fake", {"scripted-1": ModelEntry(source="none")}, False, lambda name, entry: engine)
    return InferenceServicer(ProviderSet({"fake": provider}))


def _request(**fields: Any) -> pb.StreamChatCompletionRequest:
    message = messages_pb2.Message(role=messages_pb2.ROLE_USER, content=content_pb2.Content(text="Say hello"))
    return pb.StreamChatCompletionRequest(
        model_id="scripted", messages=[message], sampling_params=sampling_pb2.SamplingParams(max_tokens=8), **fields
    )


async def test_stream_chat_sends_chunks_then_the_whole_message(engine: ScriptedEngine) -> None:
    async with connected((inference_pb2_grpc.add_InferenceServiceServicer_to_server, _servicer(engine))) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        events = [
            event async for event in stub.StreamChatCompletion(_request(), metadata=as_resolved(MODEL), timeout=30)
        ]
    # the chunks came faster than they were sent, so some went out together (services/inference/coalescing.py)
    deltas = [event.chunk.text_delta for event in events[:-1]]
    assert "".join(deltas) == "".join(REPLY) and all(deltas) and len(deltas) <= len(REPLY)
    complete = events[-1].complete
    assert complete.completion_message.content.text == "".join(REPLY)
    assert complete.completion_message.role == messages_pb2.ROLE_ASSISTANT
    assert complete.usage.completion_tokens == len(REPLY)
    assert engine.prompts and "Say hello" in engine.prompts[0]


async def test_unary_chat_and_bad_input(engine: ScriptedEngine) -> None:
    async with connected((inference_pb2_grpc.add_InferenceServiceServicer_to_server, _servicer(engine))) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        unary = pb.ChatCompletionRequest()
        unary.CopyFrom(pb.ChatCompletionRequest.FromString(_request().SerializeToString()))  # the paired message
        reply = await stub.ChatCompletion(unary, metadata=as_resolved(MODEL), timeout=30)
        assert reply.completion_message.content.text == "".join(REPLY)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ChatCompletion(
                pb.ChatCompletionRequest(model_id="scripted"), metadata=as_resolved(MODEL), timeout=30
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "messages" in refused.value.details()


class BreakingEngine(ScriptedEngine):
    """Fails after `good` chunks, as an engine that crashes mid-generation."""

    def __init__(self, good: int) -> None:
        super().__init__()
        self.good = good

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        for index, piece in enumerate(REPLY[: self.good]):
            yield GenerationChunk(piece, 1, 3, index + 1)
        raise RuntimeError("the engine crashed")


async def test_a_failure_after_output_is_the_streams_error_event() -> None:
    servicer = _servicer(BreakingEngine(good=1))
    async with connected((inference_pb2_grpc.add_InferenceServiceServicer_to_server, servicer)) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        events = [
            event async for event in stub.StreamChatCompletion(_request(), metadata=as_resolved(MODEL), timeout=30)
        ]
    assert events[0].chunk.text_delta == REPLY[0]
    assert events[-1].WhichOneof("event") == "error" and len(events) == 2
    assert (events[-1].error.code, events[-1].error.reason) == (grpc.StatusCode.INTERNAL.value[0], "ENGINE_FAILED")


async def test_a_failure_before_output_is_the_calls_status() -> None:
    servicer = _servicer(BreakingEngine(good=0))
    async with connected((inference_pb2_grpc.add_InferenceServiceServicer_to_server, servicer)) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            async for _ in stub.StreamChatCompletion(_request(), metadata=as_resolved(MODEL), timeout=30):
                pass
    assert failed.value.code() == grpc.StatusCode.INTERNAL


class FixedReplyEngine(ScriptedEngine):
    """Replies with `text`, whatever the prompt: what a grammar (`root ::= "["+`) makes any model write."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        yield GenerationChunk(self.text, 2500, 3, 2500, finish_reason="length")


HUGE_NUMBER_CALL = '{"name": "lookup", "arguments": {"n": 1' + "0" * 5000 + "}}"


@pytest.mark.parametrize(
    ("reply_text", "arguments", "message"),
    [
        ("[" * 5000, "[" * 100_000, "is JSON nested too deeply"),  # RecursionError
        (HUGE_NUMBER_CALL, '{"n": 1' + "0" * 5000 + "}", "holds an integer of more than 4300 digits"),  # ValueError
    ],
)
async def test_json_python_cannot_read_in_tool_calls_is_no_internal_error(
    reply_text: str, arguments: str, message: str
) -> None:
    async with connected(
        (inference_pb2_grpc.add_InferenceServiceServicer_to_server, _servicer(FixedReplyEngine(reply_text)))
    ) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        request = pb.ChatCompletionRequest.FromString(_request().SerializeToString())
        request.tools.add(name="lookup")
        # a reply whose JSON Python cannot read is a plain answer, not a failed call (was INTERNAL)
        reply = await stub.ChatCompletion(request, metadata=as_resolved(MODEL), timeout=30)
        assert reply.completion_message.content.text == reply_text
        assert not reply.completion_message.tool_calls

        # an earlier call's arguments Python cannot read are the caller's bad input (was INTERNAL)
        request.messages.add(role=messages_pb2.ROLE_ASSISTANT).tool_calls.add(
            call_id="c1", tool_name="lookup", arguments=arguments
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ChatCompletion(request, metadata=as_resolved(MODEL), timeout=30)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details().startswith(f"messages[1].tool_calls[0].arguments: {message}")


def _tool(index: int) -> tools_pb2.ToolDefinition:
    """A tool as agents define them: a few described arguments (about 1 KB)."""
    tool = tools_pb2.ToolDefinition(name=f"tool_{index}", description="Looks something up.")
    argument = {"type": "string", "description": "The city and state, e.g. San Francisco, CA.", "enum": ["a", "b"]}
    tool.parameters.update({"type": "object", "properties": {f"arg{i}": argument for i in range(6)}})
    return tool


async def test_a_batch_checks_its_tools_once(engine: ScriptedEngine) -> None:
    # every one of 256 conversations checked the same 128 tools again: about 50 s with the event loop held
    request = pb.BatchChatCompletionRequest(
        model_id="scripted",
        conversations=[pb.ChatConversation(messages=_request().messages)] * 256,
        tools=[_tool(index) for index in range(128)],
        tool_choice=tools_pb2.ToolChoice(mode=tools_pb2.TOOL_CHOICE_MODE_NONE),
    )
    async with connected((inference_pb2_grpc.add_InferenceServiceServicer_to_server, _servicer(engine))) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        reply = await stub.BatchChatCompletion(request, metadata=as_resolved(MODEL), timeout=15)
        assert [result.response.completion_message.content.text for result in reply.results] == ["".join(REPLY)] * 256

        request.tools.append(_tool(128))
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.BatchChatCompletion(request, metadata=as_resolved(MODEL), timeout=15)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details() == "tools: at most 128 tools per request, got 129"


class CountingEngine(ScriptedEngine):
    """Counts the generations under way (GetEngineStatus's running_requests). A prompt holding "crash" fails once
    every conversation has started; the others answer once it has failed, or, with `hang`, never (until cancelled)."""

    def __init__(self, conversations: int, hang: bool = False) -> None:
        super().__init__()
        self.conversations = conversations
        self.hang = hang
        self.running = 0
        self.all_started = asyncio.Event()
        self.crashed = asyncio.Event()
        self.idle = asyncio.Event()

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        self.running += 1
        self.idle.clear()
        try:
            if self.running == self.conversations:
                self.all_started.set()
            await self.all_started.wait()
            if "crash" in request.prompt:
                self.crashed.set()
                raise RuntimeError("the engine crashed")
            await (asyncio.Event().wait() if self.hang else self.crashed.wait())
            yield GenerationChunk("ok", 1, 3, 1, finish_reason="stop")
        finally:
            self.running -= 1
            if not self.running:
                self.idle.set()

    def stats(self) -> EngineStats:
        return EngineStats(running_requests=self.running, waiting_requests=0)


def _batch(*texts: str, **fields: Any) -> pb.BatchChatCompletionRequest:
    conversations = [
        pb.ChatConversation(messages=[messages_pb2.Message(role=messages_pb2.ROLE_USER, content={"text": text})])
        for text in texts
    ]
    return pb.BatchChatCompletionRequest(model_id="scripted", conversations=conversations, **fields)


async def _running(stub: inference_pb2_grpc.InferenceServiceStub) -> int:
    request = pb.GetEngineStatusRequest(model_id="scripted")
    status = await stub.GetEngineStatus(request, metadata=as_resolved(MODEL), timeout=30)
    return status.running_requests


async def test_a_conversation_that_fails_is_its_item_and_the_others_finish() -> None:
    # a failure that was no MeshError left gather(): the call failed INTERNAL while the other conversations went on
    engine = CountingEngine(conversations=3)
    async with connected((inference_pb2_grpc.add_InferenceServiceServicer_to_server, _servicer(engine))) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        reply = await stub.BatchChatCompletion(_batch("a", "crash", "b"), metadata=as_resolved(MODEL), timeout=30)
        assert await _running(stub) == 0
    assert [result.response.completion_message.content.text for result in reply.results] == ["ok", "", "ok"]
    error = reply.results[1].error
    assert (error.code, error.reason) == (grpc.StatusCode.INTERNAL.value[0], "ENGINE_FAILED")


async def test_a_cancelled_batch_leaves_no_conversation_generating() -> None:
    engine = CountingEngine(conversations=3, hang=True)
    async with connected((inference_pb2_grpc.add_InferenceServiceServicer_to_server, _servicer(engine))) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        call = stub.BatchChatCompletion(_batch("a", "b", "c"), metadata=as_resolved(MODEL), timeout=60)
        await asyncio.wait_for(engine.all_started.wait(), 30)
        assert await _running(stub) == 3
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await asyncio.wait_for(engine.idle.wait(), 30)
        assert await _running(stub) == 0


class LogprobEngine(ScriptedEngine):
    """Writes `tokens` tokens (fewer at max_tokens), each of `token_bytes` letters with as many alternatives as asked,
    and says its tokens take `declared` bytes at most (a remote server's may be longer than assumed)."""

    def __init__(self, token_bytes: int, tokens: int, declared: int | None = None, context: int = 4096) -> None:
        super().__init__()
        self.token_bytes = token_bytes
        self.tokens = tokens
        self.declared = token_bytes if declared is None else declared
        self.context = context
        self.requests: list[GenerationRequest] = []

    @property
    def context_length(self) -> int:
        return self.context

    @property
    def max_token_text_bytes(self) -> int:
        return self.declared

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        self.requests.append(request)
        count = min(self.tokens, request.sampling.max_tokens or self.tokens)
        for index in range(count):
            token = "abcdefghijklmnopqrstuvwxyz"[index % 26] * self.token_bytes
            top = tuple((token, -1.0) for _ in range(request.logprobs))
            last = "length" if count == request.sampling.max_tokens else "stop"
            yield GenerationChunk(
                token, 1, 3, index + 1, [TokenLogprob(token, -1.0, top)], last if index == count - 1 else None
            )


def _unary_requests(**fields: Any) -> tuple[pb.ChatCompletionRequest, pb.CompletionRequest]:
    chat = pb.ChatCompletionRequest.FromString(_request().SerializeToString())
    chat.sampling_params.Clear()
    completion = pb.CompletionRequest(model_id="scripted", content=content_pb2.Content(text="Once"))
    for request in (chat, completion):
        request.logprobs.top_k = 20
        for name, value in fields.items():
            getattr(request, name).CopyFrom(value)
    return chat, completion


async def _unary(stub: inference_pb2_grpc.InferenceServiceStub, request: Any) -> Any:
    method = stub.ChatCompletion if isinstance(request, pb.ChatCompletionRequest) else stub.Completion
    return await method(request, metadata=as_resolved(MODEL), timeout=60)


def _text_and_stop(reply: Any) -> tuple[str, int]:
    if isinstance(reply, pb.ChatCompletionResponse):
        return reply.completion_message.content.text, reply.completion_message.stop_reason
    return reply.text, reply.stop_reason


async def test_a_unary_reply_with_logprobs_holds_what_a_message_may_and_ends_there() -> None:
    # 250 tokens of 16 KiB, each with 20 alternatives as long: 86 MB. The whole reply went to gRPC, which refused to
    # send it after all the generation (RESOURCE_EXHAUSTED "Sent message larger than max").
    engine = LogprobEngine(token_bytes=16 * 1024, tokens=250, declared=128)  # a server's tokens, longer than assumed
    async with connected((inference_pb2_grpc.add_InferenceServiceServicer_to_server, _servicer(engine))) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        for request in _unary_requests():
            reply = await _unary(stub, request)
            text, stop_reason = _text_and_stop(reply)
            assert MAX_MESSAGE_BYTES - 400_000 < reply.ByteSize() <= MAX_MESSAGE_BYTES  # full, to one token
            assert stop_reason == messages_pb2.STOP_REASON_OUT_OF_TOKENS
            assert len(reply.logprobs) == reply.usage.completion_tokens < 250
            assert "".join(item.token for item in reply.logprobs) == text
            assert all(len(item.top_logprobs) == 20 for item in reply.logprobs)


async def test_a_unary_max_tokens_whose_logprobs_could_pass_a_reply_is_refused_before_generation() -> None:
    # 128-byte tokens with 20 alternatives take 3047 bytes a token: 22024 fit in 64 MiB (less the reply's frame)
    engine = LogprobEngine(token_bytes=128, tokens=3, context=1_000_000)
    async with connected((inference_pb2_grpc.add_InferenceServiceServicer_to_server, _servicer(engine))) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        for request in _unary_requests(sampling_params=sampling_pb2.SamplingParams(max_tokens=22025)):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await _unary(stub, request)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert refused.value.details().startswith(
                "sampling_params.max_tokens: with logprobs of 20 alternatives a reply holds at most 22024 tokens"
            )
            info = error_info(refused.value)
            assert info is not None and (info.reason, info.metadata["max_tokens"]) == ("REPLY_TOO_LARGE", "22024")
        assert not engine.requests
        for request in _unary_requests(sampling_params=sampling_pb2.SamplingParams(max_tokens=22024)):
            assert len((await _unary(stub, request)).logprobs) == 3
        for request in _unary_requests():  # unset: the most that surely fits, which ends as max_tokens does
            assert len((await _unary(stub, request)).logprobs) == 3
        assert [request.sampling.max_tokens for request in engine.requests] == [22024] * 4
    # bounded by the context window, a max_tokens past the reply's is the context's: taken as it is
    engine = LogprobEngine(token_bytes=128, tokens=3, context=4096)
    async with connected((inference_pb2_grpc.add_InferenceServiceServicer_to_server, _servicer(engine))) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        for request in _unary_requests(sampling_params=sampling_pb2.SamplingParams(max_tokens=50_000)):
            assert len((await _unary(stub, request)).logprobs) == 3


async def test_a_batch_whose_logprobs_could_pass_the_reply_limit_is_refused() -> None:
    # 64-byte tokens with 20 alternatives take 1598 bytes a token: 163 tokens for each of 256 conversations. The old
    # cap (64 bytes an entry) let 195 through, 80 MB, refused only once every conversation was done.
    engine = LogprobEngine(token_bytes=64, tokens=3)
    texts = ["a"] * 256
    logprobs = sampling_pb2.LogprobsConfig(top_k=20)
    async with connected((inference_pb2_grpc.add_InferenceServiceServicer_to_server, _servicer(engine))) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        for sampling, message in (
            (
                sampling_pb2.SamplingParams(max_tokens=164),
                "256 conversations with logprobs of 20 alternatives hold at most 163 tokens each",
            ),
            (sampling_pb2.SamplingParams(), "is required (at least 1)"),
        ):
            request = _batch(*texts, sampling_params=sampling, logprobs=logprobs)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.BatchChatCompletion(request, metadata=as_resolved(MODEL), timeout=30)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert refused.value.details().startswith(f"sampling_params.max_tokens: {message}")
        assert not engine.requests  # refused before any generation
        request = _batch(*texts, sampling_params=sampling_pb2.SamplingParams(max_tokens=163), logprobs=logprobs)
        reply = await stub.BatchChatCompletion(request, metadata=as_resolved(MODEL), timeout=30)
    assert len(reply.results) == 256 and all(len(result.response.logprobs) == 3 for result in reply.results)


async def test_a_batch_conversation_past_its_part_of_the_reply_ends_there() -> None:
    # one token whose text and 20 alternatives are 4 MiB each (84 MiB): the whole batch was RESOURCE_EXHAUSTED
    engine = LogprobEngine(token_bytes=4 * 1024 * 1024, tokens=1, declared=128)
    request = _batch("a", sampling_params=sampling_pb2.SamplingParams(max_tokens=1))
    request.logprobs.top_k = 20
    async with connected((inference_pb2_grpc.add_InferenceServiceServicer_to_server, _servicer(engine))) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        reply = await stub.BatchChatCompletion(request, metadata=as_resolved(MODEL), timeout=60)
    response = reply.results[0].response
    assert response.completion_message.stop_reason == messages_pb2.STOP_REASON_OUT_OF_TOKENS
    assert not response.logprobs and not response.completion_message.content.text
    assert response.usage.completion_tokens == 0


async def test_tool_calls_past_what_a_reply_holds_are_refused_as_reply_too_large() -> None:
    # 24 MB of "é" in a call's arguments: written again as JSON ("\u00e9", 6 bytes each) they pass 64 MiB
    text = '{"name": "lookup", "arguments": {"s": "' + "é" * (12 * 1024 * 1024) + '"}}'
    async with connected(
        (inference_pb2_grpc.add_InferenceServiceServicer_to_server, _servicer(FixedReplyEngine(text)))
    ) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        request = pb.ChatCompletionRequest.FromString(_request().SerializeToString())
        request.tools.add(name="lookup")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ChatCompletion(request, metadata=as_resolved(MODEL), timeout=60)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    info = error_info(refused.value)
    assert info is not None and info.reason == "REPLY_TOO_LARGE"  # was gRPC's own "Sent message larger than max"
    assert refused.value.details().endswith("ask for fewer max_tokens, or stream the reply")


@pytest.mark.parametrize(
    ("messages", "items", "field"),
    [(4097, 1, "messages: at most 4096 messages per chat, got 4097"), (1, 1025, "messages[0].content.items: at most")],
)
async def test_chats_past_the_message_caps_are_refused(
    engine: ScriptedEngine, messages: int, items: int, field: str
) -> None:
    content = content_pb2.Content(items=content_pb2.ContentItems(items=[content_pb2.ContentItem(text="x")] * items))
    message = messages_pb2.Message(role=messages_pb2.ROLE_USER, content=content)
    chat = pb.ChatCompletionRequest(model_id="scripted", messages=[message] * messages)
    async with connected((inference_pb2_grpc.add_InferenceServiceServicer_to_server, _servicer(engine))) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ChatCompletion(chat, metadata=as_resolved(MODEL), timeout=30)
        assert (refused.value.code(), refused.value.details()[: len(field)]) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            field,
        )
        stream = pb.StreamChatCompletionRequest.FromString(chat.SerializeToString())
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            async for _ in stub.StreamChatCompletion(stream, metadata=as_resolved(MODEL), timeout=30):
                pass
        assert (refused.value.code(), refused.value.details()[: len(field)]) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            field,
        )
        batch = pb.BatchChatCompletionRequest(
            model_id="scripted",
            conversations=[pb.ChatConversation(messages=chat.messages), _batch("a").conversations[0]],
        )
        reply = await stub.BatchChatCompletion(batch, metadata=as_resolved(MODEL), timeout=30)
    assert reply.results[0].error.message.startswith(f"conversations[0].{field}")
    assert reply.results[1].response.completion_message.content.text == "".join(REPLY)
    assert len(engine.prompts) == 1
