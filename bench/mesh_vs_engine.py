"""The mesh against the bare engine: streamed chat through gateway -> inference service (gRPC) vs the same engine
called in-process, for llama-cpp (local-cpu) and vLLM (vllm-cpu).

For each engine the in-process run comes first, in this process, built by the same provider code and run.yaml settings
the inference service uses; it is closed before that distribution's mesh starts, so the two never share the CPU.
Same prompt, greedy, max_tokens 64. Reports time to first token and tokens/s, and the ratio mesh/in-process.

    python -m bench.mesh_vs_engine --engines llama-cpp,vllm --requests 10 [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import traceback
import uuid
from contextlib import aclosing
from typing import Any

import grpc

from bench._common import (
    MAX_TOKENS,
    PROMPT,
    StreamSample,
    chat_request,
    log,
    make_mesh,
    print_table,
    ratio,
    running_mesh,
    summarize_streams,
    temp_root,
    timed_grpc_stream,
    write_json,
)
from llama.inference.v1 import inference_pb2_grpc
from llama_mesh.runtime.config import RunConfig
from services.inference.provider import GenerationRequest, SamplingParams, TextEngine

ENGINES = {"llama-cpp": ("local-cpu", "llama-cpp"), "vllm": ("vllm-cpu", "vllm")}  # engine: (distribution, provider)


async def timed_engine_stream(engine: TextEngine, max_tokens: int) -> StreamSample:
    start = time.perf_counter()
    first = None
    tokens = 0
    prompt = engine.render_chat([{"role": "user", "content": PROMPT}], None)
    request = GenerationRequest(
        f"bench-{uuid.uuid4().hex}", prompt, SamplingParams(strategy="greedy", max_tokens=max_tokens)
    )
    async with aclosing(engine.generate(request)) as chunks:
        async for chunk in chunks:
            if first is None and chunk.text:
                first = time.perf_counter()
            tokens = chunk.completion_tokens
    end = time.perf_counter()
    return StreamSample(ttft_s=(first or end) - start, total_s=end - start, tokens=tokens)


async def run_in_process(
    config: RunConfig, provider_id: str, requests: int, warmup: int, max_tokens: int
) -> dict[str, Any]:
    from services.inference.providers import PROVIDER_TYPES

    settings = next(p for p in config.service("inference").providers if p.provider_id == provider_id)
    provider = PROVIDER_TYPES[settings.provider_type](settings, config)
    try:
        started = time.perf_counter()
        engine = await provider.get(next(iter(provider.models)))
        load_s = time.perf_counter() - started
        log(f"  in-process engine loaded in {load_s:.1f}s")
        for _ in range(warmup):
            await timed_engine_stream(engine, max_tokens)
        samples = [await timed_engine_stream(engine, max_tokens) for _ in range(requests)]
    finally:
        await provider.close()
    return {"load_s": load_s, **summarize_streams(samples)}


def run_mesh(distribution: str, requests: int, warmup: int, max_tokens: int) -> dict[str, Any]:
    with temp_root(distribution) as root:
        started = time.perf_counter()
        with running_mesh(distribution, root) as mesh:
            start_s = time.perf_counter() - started
            log(f"  mesh up in {start_s:.1f}s (gateway {mesh.gateway_address})")
            with grpc.insecure_channel(mesh.gateway_address) as channel:
                stub = inference_pb2_grpc.InferenceServiceStub(channel)
                request = chat_request(max_tokens=max_tokens)
                for _ in range(warmup):
                    timed_grpc_stream(stub, request)
                samples = [timed_grpc_stream(stub, request) for _ in range(requests)]
    return {"start_s": start_s, **summarize_streams(samples)}


def run(engines: list[str], requests: int, warmup: int, max_tokens: int) -> dict[str, Any]:
    results: dict[str, Any] = {
        "benchmark": "mesh_vs_engine",
        "params": {"engines": engines, "requests": requests, "warmup": warmup, "max_tokens": max_tokens},
        "engines": {},
    }
    for name in engines:
        distribution, provider_id = ENGINES[name]
        slow = " (vLLM start is slow on CPU: model conversion on first run, engine start ~1-3 min, twice)"
        log(f"\n[{name}] distribution {distribution}{slow if name == 'vllm' else ''}")
        entry: dict[str, Any] = {"distribution": distribution}
        try:
            with temp_root(f"{name}-inproc") as root:
                config = make_mesh(distribution, root).config  # same settings/env the mesh would use; not started
                log(f"  in-process: {warmup} warm-up + {requests} requests")
                entry["in_process"] = asyncio.run(run_in_process(config, provider_id, requests, warmup, max_tokens))
            log(f"  mesh (gateway -> inference): {warmup} warm-up + {requests} requests")
            entry["mesh"] = run_mesh(distribution, requests, warmup, max_tokens)
        except Exception as exc:  # noqa: BLE001 - one engine failing must not hide the other's numbers
            traceback.print_exc()
            entry["error"] = f"{type(exc).__name__}: {exc}"
            log(f"  [{name}] failed: {entry['error']}")
        results["engines"][name] = entry
    return results


def report(results: dict[str, Any]) -> None:
    rows = []
    for name, entry in results["engines"].items():
        for mode in ("in_process", "mesh"):
            if mode in entry:
                s = entry[mode]
                rows.append(
                    [
                        f"{name} {mode.replace('_', '-')}",
                        s["ttft_ms"]["n"],
                        s["ttft_ms"]["p50"],
                        s["ttft_ms"]["p90"],
                        s["ttft_ms"]["mean"],
                        s["e2e_tok_per_s"]["p50"],
                        s["e2e_tok_per_s"]["mean"],
                        s["decode_tok_per_s"]["p50"],
                        s["completion_tokens"]["mean"],
                    ]
                )
    print_table(
        "Streamed chat: mesh (gateway -> inference, gRPC) vs in-process engine",
        [
            "engine / mode",
            "n",
            "ttft p50 ms",
            "ttft p90 ms",
            "ttft mean ms",
            "e2e tok/s p50",
            "e2e tok/s mean",
            "decode tok/s p50",
            "tokens",
        ],
        rows,
    )
    for name, entry in results["engines"].items():
        if "error" in entry:
            print(f"  {name}: FAILED ({entry['error']})")
        elif "mesh" in entry:
            m, e = entry["mesh"], entry["in_process"]
            print(
                f"  {name} mesh/in-process: ttft p50 x{ratio(m['ttft_ms']['p50'], e['ttft_ms']['p50']):.2f}, "
                f"e2e tok/s p50 x{ratio(m['e2e_tok_per_s']['p50'], e['e2e_tok_per_s']['p50']):.2f}, "
                f"decode tok/s p50 x{ratio(m['decode_tok_per_s']['p50'], e['decode_tok_per_s']['p50']):.2f}"
            )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="llama-cpp,vllm", help="comma-separated: llama-cpp, vllm")
    parser.add_argument("--requests", type=int, default=10, help="measured streamed chats per engine and mode")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up chats per engine and mode")
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS)
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        parser.error(f"unknown engine(s) {unknown}; choose from {sorted(ENGINES)}")
    results = run(engines, args.requests, args.warmup, args.max_tokens)
    report(results)
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
