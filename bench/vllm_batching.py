"""vLLM's engine on its own (in-process, built from vllm-cpu's run.yaml by the inference service's provider code):
continuous batching at 1, 4 and 16 concurrent streams, and prefix caching (time to first token of a request whose
long prompt prefix was just computed for another request, against one whose prefix is new).

Rounds are interleaved (1, 4, 16 streams, then again; cold, then warm prefix, then again) and medians reported, so
a load change on a shared machine hits every side alike. Each stream's prompt starts with its own nonce, so the
batching numbers never profit from the prefix cache.

    python -m bench.vllm_batching [--rounds 5] [--streams 1,4,16] [--max-tokens 64] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from contextlib import aclosing
from typing import Any

from bench._common import log, make_mesh, print_table, temp_root, write_json
from services.inference.provider import GenerationRequest, SamplingParams, TextEngine

SYSTEM_RULES = " ".join(f"Rule {i}: answer politely and briefly, in plain English." for i in range(60))


def chat(engine: TextEngine, nonce: str, question: str) -> str:
    system = {"role": "system", "content": f"Session {nonce}. {SYSTEM_RULES}"}
    return engine.render_chat([system, {"role": "user", "content": question}], None)


async def timed(engine: TextEngine, prompt: str, max_tokens: int) -> dict[str, float]:
    """One streamed generation: time to first text, end-to-end time, tokens, prompt tokens taken from the cache."""
    request = GenerationRequest(f"bench-{uuid.uuid4().hex}", prompt, SamplingParams(max_tokens=max_tokens))
    start = time.perf_counter()
    first = None
    tokens = cached = 0
    async with aclosing(engine.generate(request)) as chunks:
        async for chunk in chunks:
            if first is None and chunk.text:
                first = time.perf_counter()
            tokens, cached = chunk.completion_tokens, chunk.cached_prompt_tokens
    end = time.perf_counter()
    return {"ttft_s": (first or end) - start, "total_s": end - start, "tokens": tokens, "cached": cached}


async def batching_round(engine: TextEngine, streams: int, max_tokens: int) -> dict[str, float]:
    prompts = [chat(engine, uuid.uuid4().hex, "Write a short story about a robot who paints.") for _ in range(streams)]
    started = time.perf_counter()
    results = await asyncio.gather(*(timed(engine, prompt, max_tokens) for prompt in prompts))
    wall = time.perf_counter() - started
    return {
        "aggregate_tok_per_s": sum(r["tokens"] for r in results) / wall,
        "ttft_ms": statistics.median(r["ttft_s"] for r in results) * 1000,
        "per_stream_tok_per_s": statistics.median(r["tokens"] / r["total_s"] for r in results),
    }


async def prefix_round(engine: TextEngine) -> dict[str, float]:
    nonce = uuid.uuid4().hex
    cold = await timed(engine, chat(engine, nonce, "What is rain?"), 4)
    warm = await timed(engine, chat(engine, nonce, "What is snow?"), 4)
    return {
        "cold_ttft_ms": cold["ttft_s"] * 1000,
        "warm_ttft_ms": warm["ttft_s"] * 1000,
        "warm_cached_tokens": warm["cached"],
        "prompt_tokens": engine.count_tokens(chat(engine, nonce, "What is snow?")),
    }


async def measure(rounds: int, streams: list[int], max_tokens: int) -> dict[str, Any]:
    from services.inference.providers import PROVIDER_TYPES

    with temp_root("vllm-batching") as root:
        config = make_mesh("vllm-cpu", root).config
    settings = next(p for p in config.service("inference").providers if p.provider_type == "inline::vllm")
    provider = PROVIDER_TYPES[settings.provider_type](settings, config)
    batching: dict[int, list[dict[str, float]]] = {n: [] for n in streams}
    prefix: list[dict[str, float]] = []
    load = [os.getloadavg()[0]]
    try:
        started = time.perf_counter()
        engine = await provider.get(next(iter(provider.models)))
        log(f"engine loaded in {time.perf_counter() - started:.1f}s; warm-up")
        await batching_round(engine, max(streams), 8)
        await prefix_round(engine)
        for index in range(rounds):
            for n in streams:
                batching[n].append(await batching_round(engine, n, max_tokens))
            prefix.append(await prefix_round(engine))
            load.append(os.getloadavg()[0])
            log(f"round {index + 1}/{rounds} done (load average {load[-1]:.1f})")
    finally:
        await provider.close()
    return {
        "benchmark": "vllm_batching",
        "params": {"rounds": rounds, "streams": streams, "max_tokens": max_tokens, "cpus": os.cpu_count()},
        "load_average": load,
        "batching": {str(n): median_of(samples) for n, samples in batching.items()},
        "prefix_caching": median_of(prefix),
        "samples": {"batching": {str(n): s for n, s in batching.items()}, "prefix_caching": prefix},
    }


def median_of(samples: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(sample[key] for sample in samples) for key in samples[0]}


def report(results: dict[str, Any]) -> None:
    batching = results["batching"]
    single = batching[str(results["params"]["streams"][0])]["aggregate_tok_per_s"]
    rows = [
        [f"{n} streams", b["aggregate_tok_per_s"], b["aggregate_tok_per_s"] / single, b["per_stream_tok_per_s"],
         b["ttft_ms"]]
        for n, b in batching.items()
    ]  # fmt: skip
    print_table(
        "continuous batching (medians over rounds)",
        ["", "aggregate tok/s", "x 1 stream", "per-stream tok/s", "TTFT ms"],
        rows,
    )
    p = results["prefix_caching"]
    print_table(
        "prefix caching (medians over rounds)",
        ["", "prompt tokens", "cached tokens", "TTFT ms"],
        [
            ["new prefix", p["prompt_tokens"], 0, p["cold_ttft_ms"]],
            ["shared prefix", p["prompt_tokens"], p["warm_cached_tokens"], p["warm_ttft_ms"]],
        ],
    )
    print(f"\nload average during the run: {', '.join(f'{x:.1f}' for x in results['load_average'])}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--streams", default="1,4,16", help="comma-separated concurrent stream counts")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    streams = [int(n) for n in args.streams.split(",")]
    results = asyncio.run(measure(args.rounds, streams, args.max_tokens))
    report(results)
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
