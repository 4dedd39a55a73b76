"""Continuous batching of the embedded llama.cpp engine through the mesh: 1 stream alone vs N streams at once (default
16), streamed greedy chats through the gateway of local-cpu started with `n_parallel` = N.

Rounds alternate: one stream alone, then N at once. Every stream's message starts with its own nonce, so a slot's prefix
cache saves only the chat template's system prompt before it. Per round: aggregate tokens/s = all completion tokens /
(first request sent -> last stream ended); time to first token (TTFT) of each stream. Medians over the rounds; the
machine's load average is printed with them.

    python -m bench.llama_batching [--streams 16] [--rounds 3] [--max-tokens 64] [--weight-type Q8_0] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from typing import Any

import grpc

from bench._common import (
    PROMPT,
    StreamSample,
    StreamTally,
    chat_request,
    log,
    print_table,
    running_mesh,
    temp_root,
    write_json,
)
from llama.inference.v1 import inference_pb2_grpc


async def one_stream(stub: Any, max_tokens: int, started: float) -> StreamSample:
    request = chat_request(prompt=f"[{uuid.uuid4().hex[:8]}] {PROMPT}", max_tokens=max_tokens)
    tally = StreamTally(start=started)
    async for event in stub.StreamChatCompletion(request, timeout=3600):
        tally.see(event)
    return tally.sample()


async def concurrent(address: str, streams: int, max_tokens: int) -> dict[str, Any]:
    """`streams` chats sent at once: aggregate tokens/s, each stream's TTFT and tokens/s."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        started = time.perf_counter()
        samples = await asyncio.gather(*(one_stream(stub, max_tokens, started) for _ in range(streams)))
        wall = time.perf_counter() - started
    return {
        "aggregate_tok_per_s": sum(s.tokens for s in samples) / wall,
        "ttft_ms": [s.ttft_s * 1000 for s in samples],
        "stream_tok_per_s": [s.e2e_tps for s in samples],
        "tokens": sum(s.tokens for s in samples),
        "wall_s": wall,
        "load_average": os.getloadavg()[0],
    }


WEIGHTS_NAMED = {None: "local-cpu's default", "": "as shipped"}


def run(streams: int, rounds: int, max_tokens: int, warmup: int, weight_type: str | None) -> dict[str, Any]:
    env = {"LLAMA_MESH_PARALLEL": str(streams)}
    if weight_type is not None:
        env["LLAMA_MESH_WEIGHT_TYPE"] = weight_type
    with temp_root("llama-batching") as root, running_mesh("local-cpu", root, env=env) as mesh:
        for _ in range(warmup):
            asyncio.run(concurrent(mesh.gateway_address, streams, max_tokens))
        results: dict[int, list[dict[str, Any]]] = {1: [], streams: []}
        for index in range(rounds):
            for count in (1, streams):
                result = asyncio.run(concurrent(mesh.gateway_address, count, max_tokens))
                results[count].append(result)
                log(
                    f"round {index + 1}: {count:>2} stream(s) {result['aggregate_tok_per_s']:6.1f} tok/s, "
                    f"TTFT p50 {statistics.median(result['ttft_ms']):7.0f} ms, load {result['load_average']:.1f}"
                )
    return {"streams": streams, "max_tokens": max_tokens, "weight_type": weight_type, "rounds": results}


def report(data: dict[str, Any]) -> None:
    streams = data["streams"]
    rows = []
    single = None
    for count, rounds in sorted(data["rounds"].items(), key=lambda item: int(item[0])):
        aggregate = statistics.median(r["aggregate_tok_per_s"] for r in rounds)
        single = single or aggregate
        ttft = statistics.median(statistics.median(r["ttft_ms"]) for r in rounds)
        per_stream = statistics.median(statistics.median(r["stream_tok_per_s"]) for r in rounds)
        load = statistics.median(r["load_average"] for r in rounds)
        rows.append([count, aggregate, aggregate / single, per_stream, ttft, load])
    weights = WEIGHTS_NAMED.get(data["weight_type"], data["weight_type"])
    print_table(
        f"llama.cpp continuous batching through the mesh (weights {weights}, "
        f"n_parallel {streams}, {data['max_tokens']} greedy tokens, "
        f"medians of {len(data['rounds'][1])} rounds)",
        ["streams", "aggregate tok/s", "x 1 stream", "per-stream tok/s", "TTFT p50 ms", "load avg"],
        rows,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="rounds of N streams before measuring")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument(
        "--weight-type",
        help="the model's weight_type (LLAMA_MESH_WEIGHT_TYPE; '' = the Q4_1 file as shipped; default: local-cpu's)",
    )
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    data = run(args.streams, args.rounds, args.max_tokens, args.warmup, args.weight_type)
    report(data)
    write_json(args.json, data)


if __name__ == "__main__":
    main()
