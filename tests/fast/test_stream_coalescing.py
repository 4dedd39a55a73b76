"""Stream coalescing (services/inference/coalescing.py): chunks that come while the previous one is being sent go out
together, with every token, logprob, count and finish reason kept; an idle stream sends each chunk at once;
`stream_interval` groups tokens; failures and early closes behave as without coalescing. Also the servicer over gRPC
with logprobs, and the remote engine's server-sent event reader on awkwardly split bytes."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import aclosing

import httpx
import pytest

from llama.inference.v1 import inference_pb2_grpc
from services.inference.coalescing import coalesced, merge_chunks
from services.inference.provider import (
    ChatGenerationChunk,
    ChatGenerationRequest,
    GenerationChunk,
    GenerationRequest,
    RemoteToolCall,
    SamplingParams,
    TokenLogprob,
)
from services.inference.providers import InferenceProvider, ModelEntry, ProviderSet
from services.inference.providers.remote_openai import RemoteOpenAIEngine
from services.inference.servicer import InferenceServicer
from tests.fast.harness import as_resolved, connected
from tests.fast.test_inference_servicer import MODEL, ScriptedEngine, _request

WORDS = ["The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", "."]


def token_chunks(words: list[str] = WORDS) -> list[GenerationChunk]:
    """One chunk per token, each with its logprob and two alternatives; the last one finishes the stream."""
    return [
        GenerationChunk(
            text=word,
            token_count=1,
            prompt_tokens=5,
            completion_tokens=index + 1,
            logprobs=[TokenLogprob(word, -0.1 * index, ((word, -0.1 * index), ("x", -3.0 - index)))],
            finish_reason="length" if index == len(words) - 1 else None,
        )
        for index, word in enumerate(words)
    ]


async def at_once(chunks: list[GenerationChunk]) -> AsyncIterator[GenerationChunk]:
    for chunk in chunks:
        yield chunk


def assert_same_stream(sent: list[GenerationChunk], original: list[GenerationChunk]) -> None:
    """`sent` carries exactly what `original` did: text, tokens, logprobs in order, the final counts and reason."""
    assert "".join(c.text for c in sent) == "".join(c.text for c in original)
    assert sum(c.token_count for c in sent) == sum(c.token_count for c in original)
    assert [lp for c in sent for lp in c.logprobs] == [lp for c in original for lp in c.logprobs]
    assert (sent[-1].finish_reason, sent[-1].completion_tokens, sent[-1].prompt_tokens) == (
        original[-1].finish_reason,
        original[-1].completion_tokens,
        original[-1].prompt_tokens,
    )
    assert all(c.finish_reason is None for c in sent[:-1])


def test_merging_keeps_every_token_logprob_count_and_the_last_reason_and_tool_calls() -> None:
    chunks = token_chunks()
    merged = merge_chunks(chunks)
    assert_same_stream([merged], chunks)
    assert merge_chunks(chunks[:1]) is chunks[0]
    call = RemoteToolCall("call_1", "get_weather", '{"city": "Paris"}')
    chat = [
        ChatGenerationChunk("a", 1, 2, 1),
        ChatGenerationChunk("", 0, 2, 1, finish_reason="stop", tool_calls=[call]),
    ]
    merged_chat = merge_chunks(chat)
    assert isinstance(merged_chat, ChatGenerationChunk)
    assert (merged_chat.text, merged_chat.finish_reason, merged_chat.tool_calls) == ("a", "stop", [call])


async def test_chunks_that_come_together_go_out_together_and_nothing_is_lost() -> None:
    original = token_chunks()
    sent = [chunk async for chunk in coalesced(at_once(original))]
    assert len(sent) < len(original)
    assert_same_stream(sent, original)


async def test_an_idle_stream_sends_each_chunk_the_moment_it_comes() -> None:
    """The engine makes the next token only after the caller got the previous one: nothing may wait for company."""
    original = token_chunks()
    received = asyncio.Event()

    async def paced() -> AsyncIterator[GenerationChunk]:
        for chunk in original:
            yield chunk
            await asyncio.wait_for(received.wait(), timeout=30)  # the caller has it, alone
            received.clear()

    sent = []
    async for chunk in coalesced(paced()):
        sent.append(chunk)
        received.set()
    assert [c.text for c in sent] == WORDS
    assert_same_stream(sent, original)


async def test_chunks_that_come_while_one_is_being_sent_are_merged_into_the_next() -> None:
    original = token_chunks()
    first_received, three_more_made, second_received = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def engine() -> AsyncIterator[GenerationChunk]:
        yield original[0]
        await asyncio.wait_for(first_received.wait(), timeout=30)
        for chunk in original[1:4]:
            yield chunk
        three_more_made.set()
        await asyncio.wait_for(second_received.wait(), timeout=30)
        for chunk in original[4:]:
            await asyncio.sleep(0)
            yield chunk

    sent = []
    async with aclosing(coalesced(engine())) as stream:
        async for chunk in stream:
            sent.append(chunk)
            if len(sent) == 1:  # "sending" the first chunk takes until the engine made three more
                first_received.set()
                await asyncio.wait_for(three_more_made.wait(), timeout=30)
            elif len(sent) == 2:
                second_received.set()
    assert sent[0].text == WORDS[0]
    assert sent[1].text == "".join(WORDS[1:4]) and sent[1].token_count == 3
    assert_same_stream(sent, original)


async def test_stream_interval_sends_the_first_token_alone_then_groups() -> None:
    original = token_chunks()

    async def paced() -> AsyncIterator[GenerationChunk]:
        for chunk in original:
            await asyncio.sleep(0)
            yield chunk

    sent = [chunk async for chunk in coalesced(paced(), stream_interval=4)]
    assert sent[0].text == WORDS[0]
    assert all(chunk.token_count >= 4 for chunk in sent[1:-1])
    assert_same_stream(sent, original)


async def test_a_failure_comes_after_the_chunks_before_it() -> None:
    original = token_chunks()[:3]

    async def breaking() -> AsyncIterator[GenerationChunk]:
        for chunk in original:
            yield chunk
        raise RuntimeError("the engine crashed")

    sent = []
    with pytest.raises(RuntimeError, match="crashed"):
        async for chunk in coalesced(breaking()):
            sent.append(chunk)
    assert "".join(c.text for c in sent) == "".join(WORDS[:3])


async def test_closing_early_closes_the_engines_stream() -> None:
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[GenerationChunk]:
        try:
            while True:
                await asyncio.sleep(0)
                yield GenerationChunk("x", 1, 1, 1)
        finally:
            closed.set()

    async with aclosing(coalesced(endless())) as stream:
        async for _ in stream:
            break
    await asyncio.wait_for(closed.wait(), timeout=30)


class LogprobEngine(ScriptedEngine):
    """Every token of WORDS at once, with logprobs, finishing on length."""

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        for chunk in token_chunks():
            yield chunk


async def test_the_servicer_streams_every_token_and_logprob_with_the_stop_reason() -> None:
    provider = InferenceProvider(
        "fake", {"scripted-1": ModelEntry(source="none")}, False, lambda name, entry: LogprobEngine()
    )
    servicer = InferenceServicer(ProviderSet({"fake": provider}))
    request = _request()
    request.logprobs.top_k = 2
    async with connected((inference_pb2_grpc.add_InferenceServiceServicer_to_server, servicer)) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        events = [e async for e in stub.StreamChatCompletion(request, metadata=as_resolved(MODEL), timeout=30)]
    chunks = [event.chunk for event in events if event.WhichOneof("event") == "chunk"]
    assert "".join(c.text_delta for c in chunks) == "".join(WORDS)
    logprobs = [lp for c in chunks for lp in c.logprobs]
    expected = [lp for c in token_chunks() for lp in c.logprobs]
    assert [lp.token for lp in logprobs] == [lp.token for lp in expected]
    assert all(math.isclose(a.logprob, b.logprob, abs_tol=1e-6) for a, b in zip(logprobs, expected, strict=True))
    assert [[t.token for t in lp.top_logprobs] for lp in logprobs] == [[t for t, _ in lp.top] for lp in expected]
    complete = events[-1].complete
    assert complete.completion_message.content.text == "".join(WORDS)
    assert complete.usage.completion_tokens == len(WORDS)


def _sse_body(pieces: list[bytes]) -> httpx.MockTransport:
    """A server that answers GET /models with one model and every POST with `pieces`, one network read each."""

    class Pieces(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            for piece in pieces:
                yield piece

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"data": [{"id": "m"}]})
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Pieces())

    return httpx.MockTransport(answer)


async def test_the_remote_engine_reads_events_split_anywhere_with_any_line_ends() -> None:
    events = [
        b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\r\n\r\n',
        b": a comment the reader skips\r\n\r\n",
        b'data: {"choices":[{"index":0,"delta":{"content":"Caf\xc3\xa9"}}]}\n\n',
        b'event: message\ndata: {"choices":[{"index":0,\ndata: "delta":{"content":" au lait"}}]}\n\n',
        b'data:{"choices":[{"index":0,"delta":{"content":"!"},"finish_reason":"stop"}]}\r\r',
        b'data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}\r\n\r\n',
        b"data: [DONE]\r\n\r\n",
    ]
    whole = b"".join(events)
    # split inside a CRLF, inside a UTF-8 character, inside "data:", and one event per read
    for pieces in ([whole], [whole[i : i + 7] for i in range(0, len(whole), 7)], events):
        engine = RemoteOpenAIEngine("http://remote.test/v1", "m", transport=_sse_body(pieces))
        await engine.start()
        request = ChatGenerationRequest("chat-1", [{"role": "user", "content": "hi"}], SamplingParams())
        chunks = [chunk async for chunk in engine.chat(request)]
        await engine.close()
        assert "".join(c.text for c in chunks) == "Café au lait!"
        assert (chunks[-1].finish_reason, chunks[-1].prompt_tokens, chunks[-1].completion_tokens) == ("stop", 7, 3)
        assert sum(c.token_count for c in chunks) == 3


def test_stream_interval_is_a_provider_setting_with_bounds() -> None:
    from pydantic import ValidationError

    from services.inference.providers import LlamaCppConfig, RemoteOpenAIConfig, VllmConfig

    models = {"m": {"source": "x"}}
    assert RemoteOpenAIConfig.model_validate({"base_url": "http://h/v1", "models": models}).stream_interval == 1
    assert LlamaCppConfig.model_validate({"models": models, "stream_interval": 4}).stream_interval == 4
    for wrong in (0, 1025):
        with pytest.raises(ValidationError):
            VllmConfig.model_validate({"models": models, "stream_interval": wrong})
