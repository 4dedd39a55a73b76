"""What the OpenAI edge adds: the same streamed chat through the edge (the official `openai` SDK, HTTP + SSE) and
with a gRPC client on the gateway, interleaved in one run.

Starts local-cpu's gateway, inference service and OpenAI edge on free loopback ports, untraced. After a warm-up,
alternates one chat per path (fixed prompt, greedy, max_tokens 64) and reports time to first token and tokens/s for
each, and the edge's own CPU time per streamed request (user + system time of the edge process over each edge
request; the edge does nothing else meanwhile).

    python -m bench.openai_edge --requests 10 [--json out.json]
"""

from __future__ import annotations

import argparse
import time

import grpc
import openai
import psutil

from bench._common import (
    MAX_TOKENS,
    MODEL_ID,
    PROMPT,
    StreamSample,
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
from llama.inference.v1 import inference_pb2_grpc


def timed_edge_stream(client: openai.OpenAI, max_tokens: int) -> StreamSample:
    """One streamed chat through the edge, with the SDK as any OpenAI client would make it."""
    start = time.perf_counter()
    first = None
    tokens = 0
    stream = client.chat.completions.create(
        model=MODEL_ID,
        messages=[{"role": "user", "content": PROMPT}],
        temperature=0,
        max_tokens=max_tokens,
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter()
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    end = time.perf_counter()
    return StreamSample(ttft_s=(first or end) - start, total_s=end - start, tokens=tokens)


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def run(requests: int, warmup: int, max_tokens: int) -> dict:
    with temp_root("openai-edge") as root, running_mesh("local-cpu", root, also=("openai_edge",)) as mesh:
        assert mesh.config.openai_edge is not None
        edge_url = f"http://{mesh.config.openai_edge.address}/v1"
        edge = psutil.Process(mesh.processes["openai_edge"].pid)
        log(f"mesh up: gateway {mesh.gateway_address}, edge {edge_url}")
        with (
            grpc.insecure_channel(mesh.gateway_address) as channel,
            openai.OpenAI(base_url=edge_url, api_key="none", max_retries=0, timeout=600) as client,
        ):
            gateway = inference_pb2_grpc.InferenceServiceStub(channel)
            request = chat_request(max_tokens=max_tokens)
            for _ in range(warmup):
                timed_grpc_stream(gateway, request)
                timed_edge_stream(client, max_tokens)
            log(f"streamed chat: {requests} per path, alternating, max_tokens={max_tokens}, greedy")
            streams: list[list[StreamSample]] = [[], []]
            edge_cpu_ms: list[float] = []
            for side, _ in interleaved(2, requests, 1):
                if side == 0:
                    streams[0].append(timed_grpc_stream(gateway, request))
                else:
                    before = cpu_seconds(edge)
                    streams[1].append(timed_edge_stream(client, max_tokens))
                    edge_cpu_ms.append((cpu_seconds(edge) - before) * 1000)
    return {
        "benchmark": "openai_edge",
        "distribution": "local-cpu",
        "params": {"requests": requests, "warmup": warmup, "max_tokens": max_tokens},
        "stream": {"grpc_gateway": summarize_streams(streams[0]), "openai_edge": summarize_streams(streams[1])},
        "edge_cpu_ms_per_request": summarize(edge_cpu_ms),
    }


def report(results: dict) -> None:
    stream = results["stream"]
    rows = [
        [path, s["ttft_ms"]["n"], s["ttft_ms"]["p50"], s["ttft_ms"]["p90"], s["e2e_tok_per_s"]["p50"],
         s["decode_tok_per_s"]["p50"], s["completion_tokens"]["mean"]]
        for path, s in stream.items()
    ]  # fmt: skip
    print_table(
        "Streamed chat (greedy)",
        ["path", "n", "ttft p50 ms", "ttft p90 ms", "e2e tok/s p50", "decode tok/s p50", "tokens"],
        rows,
    )
    grpc_side, edge_side = stream["grpc_gateway"], stream["openai_edge"]
    print(
        f"  edge/gRPC: ttft p50 x{ratio(edge_side['ttft_ms']['p50'], grpc_side['ttft_ms']['p50']):.2f} "
        f"(+{edge_side['ttft_ms']['p50'] - grpc_side['ttft_ms']['p50']:.1f} ms), "
        f"e2e tok/s p50 x{ratio(edge_side['e2e_tok_per_s']['p50'], grpc_side['e2e_tok_per_s']['p50']):.2f}"
    )
    cpu = results["edge_cpu_ms_per_request"]
    print(f"  edge CPU per streamed request: p50 {cpu['p50']:.1f} ms, p90 {cpu['p90']:.1f} ms, mean {cpu['mean']:.1f}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10, help="streamed chats per path")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up chats per path")
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS)
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    args = parser.parse_args(argv)
    results = run(args.requests, args.warmup, args.max_tokens)
    report(results)
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
