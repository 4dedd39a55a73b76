"""Continuous batching in LlamaCppEngine against the real SmolLM2-135M-Instruct GGUF, as shipped (Q4_1) and as local-cpu
serves it (re-encoded, Q8_0): requests decoded together give, token for token and to the last bit of every
log-probability, what each gives run alone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace

import jsonschema
import pytest

pytest.importorskip("llama_cpp")

from services.inference.provider import GenerationRequest, OutputConstraint, SamplingParams
from services.inference.providers.llama_cpp import LlamaCppEngine

pytestmark = pytest.mark.asyncio

LONG_SYSTEM = "You answer questions about colours. " + " ".join(f"Fact {i}: colour {i} is a hue." for i in range(60))
LETTERS = OutputConstraint(grammar="root ::= [a-z] root")  # never lets the model stop


@pytest.fixture(scope="module")
async def batching(smollm2_weights: str) -> AsyncIterator[LlamaCppEngine]:
    engine = LlamaCppEngine(smollm2_weights, n_ctx=2048, n_parallel=3)
    await engine.start()
    yield engine
    await engine.close()


@pytest.fixture(scope="module")
async def alone(smollm2_weights: str) -> AsyncIterator[LlamaCppEngine]:
    """The reference: one request at a time, every prompt evaluated from scratch."""
    engine = LlamaCppEngine(smollm2_weights, n_ctx=2048, n_parallel=1, prefix_cache=False)
    await engine.start()
    yield engine
    await engine.close()


def chat(
    engine: LlamaCppEngine,
    question: str,
    system: str | None = None,
    max_tokens: int = 24,
    logprobs: int = 1,
    constraint: OutputConstraint | None = None,
    **sampling: object,
) -> GenerationRequest:
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": question})
    return GenerationRequest(
        request_id=question,
        prompt=engine.render_chat(messages, None),
        sampling=SamplingParams(max_tokens=max_tokens, **sampling),
        constraint=constraint,
        logprobs=logprobs,
    )


async def run(engine: LlamaCppEngine, request: GenerationRequest) -> tuple[str, list, str | None]:
    """Text, (token, logprob) of every generated token, finish reason."""
    chunks = [chunk async for chunk in engine.generate(request)]
    tokens = [(entry.token, entry.logprob) for chunk in chunks for entry in chunk.logprobs]
    return "".join(chunk.text for chunk in chunks), tokens, chunks[-1].finish_reason


async def test_concurrent_greedy_streams_match_each_run_alone(batching: LlamaCppEngine, alone: LlamaCppEngine) -> None:
    # One stream that cannot end by itself runs through the whole test, so the others are always decoded with it.
    letters = batching.generate(chat(batching, "Spell a long word.", max_tokens=0, constraint=LETTERS))
    seen = [entry.token for entry in (await anext(letters)).logprobs]
    requests = [
        ("What is red?", LONG_SYSTEM, 16, ()),  # ~800 prompt tokens, several 128-token pieces
        ("Name three colors of the rainbow.", LONG_SYSTEM, 24, ()),
        ("What is blue?", LONG_SYSTEM, 12, ()),  # both free slots then hold the long prefix: this one reuses it
        ("Name three colors of the rainbow.", None, 32, ()),
        ("What is 2+2?", None, 5, ()),
        ("Write a short poem about the sea.", None, 40, ("\n",)),  # stops early
    ]  # more requests than the two free slots: they queue
    reused_before = batching.reused_prompt_tokens
    batched = await asyncio.gather(
        *(run(batching, chat(batching, q, system, max_tokens, stop=stop)) for q, system, max_tokens, stop in requests)
    )
    async for chunk in letters:
        seen += [entry.token for entry in chunk.logprobs]
        if len(seen) >= 8:
            break
    await letters.aclose()

    for (question, system, max_tokens, stop), result in zip(requests, batched, strict=True):
        expected = await run(alone, chat(alone, question, system, max_tokens, stop=stop))
        assert result == expected, question
        assert result[1]
    expected_letters = await run(alone, chat(alone, "Spell a long word.", max_tokens=len(seen), constraint=LETTERS))
    assert seen == [token for token, _ in expected_letters[1]]
    assert batching.peak_batch_size == 3
    assert batching.reused_prompt_tokens - reused_before > 700  # the long system prompt was reused in a slot
    assert batching.stats().running_requests == batching.stats().waiting_requests == 0


async def test_mixed_sampling_in_one_batch(batching: LlamaCppEngine, alone: LlamaCppEngine) -> None:
    schema = {
        "type": "object",
        "properties": {"color": {"type": "string", "enum": ["red", "green", "blue"]}, "count": {"type": "integer"}},
        "required": ["color", "count"],
        "additionalProperties": False,
    }
    requests = [
        lambda e: chat(e, "Tell me a story about a cat.", max_tokens=20, strategy="top_p", temperature=0.9, seed=11),
        lambda e: chat(e, "Pick a color and a count, as JSON.", max_tokens=40, constraint=OutputConstraint(schema)),
        lambda e: chat(e, "Tell me a story about a dog.", max_tokens=16, strategy="top_k", top_k=5, seed=3),
        lambda e: chat(e, "Name three colors of the rainbow.", max_tokens=16, logprobs=0, repetition_penalty=1.3),
        lambda e: chat(
            e,
            "Is the sky blue?",
            max_tokens=8,
            logprobs=4,
            constraint=OutputConstraint(grammar='root ::= "yes" | "no"'),
        ),
    ]
    batched = await asyncio.gather(*(run(batching, make(batching)) for make in requests))
    for make, result in zip(requests, batched, strict=True):
        assert result == await run(alone, make(alone))
    story, json_text, _, plain, yes_no = (text for text, _, _ in batched)
    assert story and plain
    jsonschema.validate(json.loads(json_text), schema)
    assert yes_no in ("yes", "no")
    assert batched[3][1] == []  # no logprobs asked
    assert batched[1][2] == "stop"


async def test_cancelling_a_stream_lets_a_queued_request_start(batching: LlamaCppEngine) -> None:
    streams = [
        batching.generate(chat(batching, f"Spell word {i}.", max_tokens=0, constraint=LETTERS)) for i in range(3)
    ]
    for stream in streams:
        await anext(stream)
    assert batching.stats().running_requests == 3
    queued = asyncio.create_task(run(batching, chat(batching, "What is 2+2?", max_tokens=4, logprobs=0)))
    for _ in range(1000):
        if batching.stats().waiting_requests:
            break
        await asyncio.sleep(0.01)
    assert batching.stats().waiting_requests == 1

    # A consumer cancelled mid-stream (a client gone, a deadline passed) gives its slot back.
    reading = asyncio.Event()

    async def consume(stream: AsyncIterator) -> None:
        async for _ in stream:
            reading.set()

    consumer = asyncio.create_task(consume(streams[0]))
    await reading.wait()
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    text, _, finish_reason = await queued
    assert text and finish_reason == "length"
    assert batching.stats().running_requests == 2
    for stream in streams[1:]:
        await stream.aclose()
    assert batching.stats().running_requests == batching.stats().waiting_requests == 0


def admit(engine: LlamaCppEngine, prompt: list[int]) -> int:
    """The slot the engine gives a request with this prompt (the scheduler's choice, without a model)."""
    engine._queue.append(SimpleNamespace(prompt_tokens=prompt))  # type: ignore[arg-type]  # _admit reads only this
    (slot,) = engine._admit()
    return slot.seq_id


async def test_a_request_takes_a_slot_next_to_the_busy_ones_unless_another_saves_a_long_prompt() -> None:
    engine = LlamaCppEngine("unused.gguf", n_parallel=6)  # not started: only the slot choice runs
    slots = engine._slots
    for seq_id, last_used in enumerate([5, 6, 1, 2, 3, 4]):
        slots[seq_id].last_used = last_used
    prompt = list(range(100, 300))
    # Nothing busy: the least recently used slot.
    assert admit(engine, prompt) == 2
    slots[2].job = None
    # Slots 0 and 1 busy: slot 2 keeps the busy ones together, although slot 4 holds a short shared start.
    slots[0].job = slots[1].job = object()  # type: ignore[assignment]
    slots[4].cached = prompt[:20]
    assert admit(engine, prompt) == 2
    slots[2].job = None
    # A long shared start is worth a gap.
    slots[4].cached = prompt[:150]
    assert admit(engine, prompt) == 4
    slots[4].job = None
    # A slot between two busy ones closes a gap.
    slots[4].cached, slots[3].job = [], object()  # type: ignore[assignment]
    assert admit(engine, prompt) == 2


async def test_a_long_prompt_does_not_stall_a_running_stream(batching: LlamaCppEngine) -> None:
    running = batching.generate(chat(batching, "Spell a word.", max_tokens=0, constraint=LETTERS, logprobs=0))
    await anext(running)
    # ~800 new prompt tokens (no slot holds them): evaluated 128 at a time, with a decode step between two pieces
    system = "You answer questions about animals. " + " ".join(f"Animal {i} has {i} spots." for i in range(90))
    arrivals: list[str] = []  # what reached the event loop, in order: a token of each stream

    async def read_running() -> None:
        async for chunk in running:
            arrivals.extend(["running"] * chunk.token_count)

    reader = asyncio.create_task(read_running())
    async for chunk in batching.generate(chat(batching, "Which animal has 3 spots?", system, max_tokens=1)):
        arrivals.extend(["long"] * chunk.token_count)
    reader.cancel()  # the running stream ends: its slot is freed
    with pytest.raises(asyncio.CancelledError):
        await reader
    assert arrivals.count("long") == 1
    assert arrivals.index("long") >= 4  # the running stream got tokens while the long prompt was evaluated
    assert batching.stats().running_requests == 0
