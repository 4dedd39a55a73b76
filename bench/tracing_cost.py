"""What tracing costs: the same calls through the gateway on an untraced mesh and on a traced one.

Starts local-cpu twice, one after the other (never both at once on the 2 cores): untraced (LLAMA_MESH_TRACE_EXPORTER
=none: no gRPC tracing interceptors at all) and traced (every service exports spans over OTLP to the telemetry
service, which stores them). Measures a forwarded unary call (InferenceService.GetEngineStatus) and a streamed chat
through the gateway in each, and prints traced/untraced ratios.

    python -m bench.tracing_cost --requests 200 --chat-requests 5 [--json out.json]
"""

from __future__ import annotations

import argparse
import time

import grpc

from bench._common import (
    MAX_TOKENS,
    MODEL_ID,
    chat_request,
    log,
    print_table,
    ratio,
    running_mesh,
    summarize,
    summarize_streams,
    temp_root,
    timed_grpc_stream,
    write_json,
)
from llama.inference.v1 import inference_pb2, inference_pb2_grpc


def measure(traced: bool, requests: int, chat_requests: int, warmup: int, max_tokens: int) -> dict:
    mode = "traced" if traced else "untraced"
    with temp_root(f"tracing-{mode}") as root, running_mesh("local-cpu", root, traced=traced) as mesh:
        log(f"{mode} mesh up: gateway {mesh.gateway_address}")
        with grpc.insecure_channel(mesh.gateway_address) as channel:
            inference = inference_pb2_grpc.InferenceServiceStub(channel)
            status = inference_pb2.GetEngineStatusRequest(model_id=MODEL_ID)
            for _ in range(warmup):
                inference.GetEngineStatus(status, timeout=10)
            unary_ms = []
            for _ in range(requests):
                start = time.perf_counter()
                inference.GetEngineStatus(status, timeout=10)
                unary_ms.append((time.perf_counter() - start) * 1000)
            request = chat_request(max_tokens=max_tokens)
            timed_grpc_stream(inference, request)  # warm-up
            streams = [timed_grpc_stream(inference, request) for _ in range(chat_requests)]
    return {"unary_ms": summarize(unary_ms), "stream": summarize_streams(streams)}


def run(requests: int, chat_requests: int, warmup: int, max_tokens: int) -> dict:
    return {
        "benchmark": "tracing_cost",
        "distribution": "local-cpu",
        "params": {"requests": requests, "chat_requests": chat_requests, "warmup": warmup, "max_tokens": max_tokens},
        "untraced": measure(False, requests, chat_requests, warmup, max_tokens),
        "traced": measure(True, requests, chat_requests, warmup, max_tokens),
    }


def report(results: dict) -> None:
    modes = ("untraced", "traced")
    rows = [
        [
            mode,
            results[mode]["unary_ms"]["n"],
            results[mode]["unary_ms"]["p50"],
            results[mode]["unary_ms"]["p90"],
            results[mode]["stream"]["ttft_ms"]["p50"],
            results[mode]["stream"]["e2e_tok_per_s"]["p50"],
        ]
        for mode in modes
    ]
    print_table(
        "Through the gateway",
        ["mode", "n", "unary p50 ms", "unary p90 ms", "chat ttft p50 ms", "chat e2e tok/s p50"],
        rows,
    )
    untraced, traced = results["untraced"], results["traced"]
    print(
        f"  traced/untraced: unary p50 x{ratio(traced['unary_ms']['p50'], untraced['unary_ms']['p50']):.2f} "
        f"(+{traced['unary_ms']['p50'] - untraced['unary_ms']['p50']:.3f} ms), chat ttft p50 "
        f"x{ratio(traced['stream']['ttft_ms']['p50'], untraced['stream']['ttft_ms']['p50']):.2f}, chat tok/s p50 "
        f"x{ratio(traced['stream']['e2e_tok_per_s']['p50'], untraced['stream']['e2e_tok_per_s']['p50']):.2f}"
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="unary calls per mode")
    parser.add_argument("--chat-requests", type=int, default=5, help="streamed chats per mode")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS)
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    results = run(args.requests, args.chat_requests, args.warmup, args.max_tokens)
    report(results)
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
