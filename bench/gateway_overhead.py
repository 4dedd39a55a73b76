"""What the gateway adds: the same calls made directly to the inference service and through the gateway.

Starts the local-cpu distribution (gateway + inference service) on free loopback ports and measures, interleaved in
blocks (A, B, A, B...) after a warm-up:
  - InferenceService.GetEngineStatus, unary: direct vs via the gateway (the gateway's pure forwarding cost);
  - RegistryService.GetModel, served by the gateway itself (absolute latency);
  - StreamChatCompletion (fixed prompt, greedy, max_tokens 64): time to first token and tokens/s, direct vs gateway.
Direct calls carry the resolved model resource in metadata, exactly as the gateway forwards it, so the service does
the same work either way.

    python -m bench.gateway_overhead --requests 200 --chat-requests 10 [--json out.json]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import grpc

from bench._common import (
    MAX_TOKENS,
    MODEL_ID,
    chat_request,
    interleaved,
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
from llama.registry.v1 import registry_pb2, registry_pb2_grpc
from llama_mesh.resources import resource_metadata
from llama_mesh.runtime.mesh_identity import peer_metadata


def time_calls(calls: list[Callable[[], object]], total: int, block: int, warmup: int) -> list[list[float]]:
    """Latencies in ms per call kind, interleaved in blocks."""
    for call in calls:
        for _ in range(warmup):
            call()
    timings: list[list[float]] = [[] for _ in calls]
    for side, count in interleaved(len(calls), total, block):
        for _ in range(count):
            start = time.perf_counter()
            calls[side]()
            timings[side].append((time.perf_counter() - start) * 1000)
    return timings


def run(requests: int, chat_requests: int, block: int, warmup: int, max_tokens: int) -> dict:
    with temp_root("gateway") as root, running_mesh("local-cpu", root) as mesh:
        inference_address = mesh.config.service("inference").address
        log(f"mesh up: gateway {mesh.gateway_address}, inference {inference_address}")
        with grpc.insecure_channel(mesh.gateway_address) as gw, grpc.insecure_channel(inference_address) as direct:
            registry = registry_pb2_grpc.RegistryServiceStub(gw)
            via_gateway = inference_pb2_grpc.InferenceServiceStub(gw)
            to_service = inference_pb2_grpc.InferenceServiceStub(direct)
            model = registry.GetModel(registry_pb2.GetModelRequest(model_id=MODEL_ID), timeout=10)
            # what the gateway attaches when it forwards: the resource, and its proof of identity (the mesh secret)
            metadata = (resource_metadata(model), *peer_metadata("gateway", mesh.secret))
            status = inference_pb2.GetEngineStatusRequest(model_id=MODEL_ID)
            get_model = registry_pb2.GetModelRequest(model_id=MODEL_ID)

            log(f"unary: {requests} calls per kind, blocks of {block}, {warmup} warm-up calls each")
            direct_ms, gateway_ms, registry_ms = time_calls(
                [
                    lambda: to_service.GetEngineStatus(status, metadata=metadata, timeout=10),
                    lambda: via_gateway.GetEngineStatus(status, timeout=10),
                    lambda: registry.GetModel(get_model, timeout=10),
                ],
                requests,
                block,
                warmup,
            )

            log(f"streamed chat: {chat_requests} per path, alternating, max_tokens={max_tokens}, greedy")
            request = chat_request(max_tokens=max_tokens)
            for _ in range(2):  # warm-up
                timed_grpc_stream(to_service, request, metadata)
                timed_grpc_stream(via_gateway, request)
            streams: list[list] = [[], []]
            for side, _ in interleaved(2, chat_requests, 1):
                if side == 0:
                    streams[0].append(timed_grpc_stream(to_service, request, metadata))
                else:
                    streams[1].append(timed_grpc_stream(via_gateway, request))

    return {
        "benchmark": "gateway_overhead",
        "distribution": "local-cpu",
        "params": {
            "requests": requests,
            "chat_requests": chat_requests,
            "block": block,
            "warmup": warmup,
            "max_tokens": max_tokens,
        },
        "unary_ms": {
            "get_engine_status_direct": summarize(direct_ms),
            "get_engine_status_gateway": summarize(gateway_ms),
            "registry_get_model_gateway": summarize(registry_ms),
        },
        "stream": {"direct": summarize_streams(streams[0]), "gateway": summarize_streams(streams[1])},
    }


def report(results: dict) -> None:
    unary = results["unary_ms"]
    rows = [[name, s["n"], s["p50"], s["p90"], s["mean"]] for name, s in unary.items()]
    print_table("Unary latency (ms)", ["call", "n", "p50", "p90", "mean"], rows)
    direct, gateway = unary["get_engine_status_direct"], unary["get_engine_status_gateway"]
    print(
        f"  gateway/direct GetEngineStatus: p50 x{ratio(gateway['p50'], direct['p50']):.2f}, "
        f"mean x{ratio(gateway['mean'], direct['mean']):.2f}; "
        f"forwarding adds {gateway['p50'] - direct['p50']:.3f} ms at p50"
    )

    stream = results["stream"]
    rows = [
        [
            path,
            s["ttft_ms"]["n"],
            s["ttft_ms"]["p50"],
            s["ttft_ms"]["p90"],
            s["ttft_ms"]["mean"],
            s["e2e_tok_per_s"]["p50"],
            s["decode_tok_per_s"]["p50"],
            s["completion_tokens"]["mean"],
        ]
        for path, s in stream.items()
    ]
    print_table(
        "Streamed chat (greedy)",
        ["path", "n", "ttft p50 ms", "ttft p90 ms", "ttft mean ms", "e2e tok/s p50", "decode tok/s p50", "tokens"],
        rows,
    )
    d, g = stream["direct"], stream["gateway"]
    print(
        f"  gateway/direct: ttft p50 x{ratio(g['ttft_ms']['p50'], d['ttft_ms']['p50']):.2f}, "
        f"e2e tok/s p50 x{ratio(g['e2e_tok_per_s']['p50'], d['e2e_tok_per_s']['p50']):.2f}, "
        f"decode tok/s p50 x{ratio(g['decode_tok_per_s']['p50'], d['decode_tok_per_s']['p50']):.2f}"
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="unary calls per kind")
    parser.add_argument("--chat-requests", type=int, default=10, help="streamed chats per path")
    parser.add_argument("--block", type=int, default=10, help="unary calls per interleaved block")
    parser.add_argument("--warmup", type=int, default=20, help="unary warm-up calls per kind")
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS)
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    args = parser.parse_args(argv)
    results = run(args.requests, args.chat_requests, args.block, args.warmup, args.max_tokens)
    report(results)
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
