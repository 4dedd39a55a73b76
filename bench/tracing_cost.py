"""What tracing costs: the same calls through the gateway of an untraced mesh and of a traced one, interleaved.

Starts local-cpu twice, side by side: untraced (LLAMA_MESH_TRACE_EXPORTER=none: no gRPC tracing interceptors at all)
and traced (every service exports spans over OTLP to the telemetry service, which stores them). Then, in alternating
blocks, a unary call the gateway serves itself (RegistryService.ListModels), a forwarded unary call
(InferenceService.GetEngineStatus: a span on the gateway's server side and client side, and one on the inference
service's), and streamed chats; traced/untraced ratios of the medians.

    python -m bench.tracing_cost --requests 200 --chat-requests 5 [--json out.json]
"""

from __future__ import annotations

import argparse
import time

import grpc
import psutil

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
from bench.gateway_overhead import time_calls
from llama.inference.v1 import inference_pb2, inference_pb2_grpc
from llama.registry.v1 import registry_pb2, registry_pb2_grpc
from llama_mesh.launcher import LocalMesh

MODES = ("untraced", "traced")


# Spans wait up to export_delay_ms (1 s by default) in a batch; this long after a phase its exports are done, so
# the telemetry service's CPU for them falls into the phase.
EXPORT_SETTLE_S = 2.5


def cpu_ms(processes: dict[str, psutil.Process]) -> dict[str, float]:
    """CPU time (user + system) each process has used so far, in ms."""
    return {name: (lambda t: (t.user + t.system) * 1000)(process.cpu_times()) for name, process in processes.items()}


def mesh_processes(mesh: LocalMesh) -> dict[str, psutil.Process]:
    return {name: psutil.Process(process.pid) for name, process in mesh.processes.items()}


def timed_phase(
    calls: list, meshes: list[dict[str, psutil.Process]], requests: int, block: int, warmup: int
) -> tuple[list[list[float]], list[dict[str, float]]]:
    """One call kind on every mesh, interleaved: latencies per mesh, and per mesh the CPU ms per call of each of its
    processes (its exports included: the phase ends once they are sent and stored)."""
    for call in calls:
        for _ in range(warmup):
            call()
    time.sleep(EXPORT_SETTLE_S)  # the warm-up's spans are exported before the count starts
    before = [cpu_ms(processes) for processes in meshes]
    timings = time_calls(calls, requests, block, 0)
    time.sleep(EXPORT_SETTLE_S)
    after = [cpu_ms(processes) for processes in meshes]
    per_call = [
        {name: (end[name] - start[name]) / requests for name in end} for start, end in zip(before, after, strict=True)
    ]
    return timings, per_call


def run(requests: int, chat_requests: int, warmup: int, max_tokens: int, block: int = 10) -> dict:
    with (
        temp_root("tracing-untraced") as plain_root,
        temp_root("tracing-traced") as traced_root,
        running_mesh("local-cpu", plain_root) as plain,
        running_mesh("local-cpu", traced_root, traced=True) as traced,
        grpc.insecure_channel(plain.gateway_address) as plain_channel,
        grpc.insecure_channel(traced.gateway_address) as traced_channel,
    ):
        log(f"meshes up: untraced {plain.gateway_address}, traced {traced.gateway_address}")
        channels = (plain_channel, traced_channel)
        processes = [mesh_processes(plain), mesh_processes(traced)]
        registries = [registry_pb2_grpc.RegistryServiceStub(channel) for channel in channels]
        inferences = [inference_pb2_grpc.InferenceServiceStub(channel) for channel in channels]
        listing = registry_pb2.ListModelsRequest()
        status = inference_pb2.GetEngineStatusRequest(model_id=MODEL_ID)
        log(f"unary: {requests} calls per kind and mode, blocks of {block}, interleaved")
        lists, list_cpu = timed_phase(
            [lambda r=r: r.ListModels(listing, timeout=10) for r in registries], processes, requests, block, warmup
        )
        statuses, status_cpu = timed_phase(
            [lambda i=i: i.GetEngineStatus(status, timeout=10) for i in inferences], processes, requests, block, warmup
        )
        request = chat_request(max_tokens=max_tokens)
        for inference in inferences:  # warm-up
            timed_grpc_stream(inference, request)
        streams: list[list] = [[], []]
        for side, _ in interleaved(2, chat_requests, 1):
            streams[side].append(timed_grpc_stream(inferences[side], request))
    return {
        "benchmark": "tracing_cost",
        "distribution": "local-cpu",
        "params": {"requests": requests, "chat_requests": chat_requests, "warmup": warmup, "max_tokens": max_tokens},
        "load_average": list(psutil.getloadavg()),
        **{
            mode: {
                "list_ms": summarize(lists[side]),
                "unary_ms": summarize(statuses[side]),
                "list_cpu_ms_per_call": list_cpu[side],
                "unary_cpu_ms_per_call": status_cpu[side],
                "stream": summarize_streams(streams[side]),
            }
            for side, mode in enumerate(MODES)
        },
    }


def report(results: dict) -> None:
    rows = [
        [
            mode,
            results[mode]["unary_ms"]["n"],
            results[mode]["list_ms"]["p50"],
            results[mode]["unary_ms"]["p50"],
            results[mode]["unary_ms"]["p90"],
            results[mode]["stream"]["ttft_ms"]["p50"],
            results[mode]["stream"]["e2e_tok_per_s"]["p50"],
        ]
        for mode in MODES
    ]
    print_table(
        "Through the gateway, interleaved",
        [
            "mode",
            "n",
            "ListModels p50 ms",
            "forwarded unary p50 ms",
            "forwarded unary p90 ms",
            "chat ttft p50 ms",
            "chat e2e tok/s p50",
        ],
        rows,
    )
    untraced, traced = results["untraced"], results["traced"]
    print(
        f"  traced/untraced: ListModels p50 x{ratio(traced['list_ms']['p50'], untraced['list_ms']['p50']):.2f}, "
        f"forwarded unary p50 x{ratio(traced['unary_ms']['p50'], untraced['unary_ms']['p50']):.2f} "
        f"(+{traced['unary_ms']['p50'] - untraced['unary_ms']['p50']:.3f} ms), chat ttft p50 "
        f"x{ratio(traced['stream']['ttft_ms']['p50'], untraced['stream']['ttft_ms']['p50']):.2f}, chat tok/s p50 "
        f"x{ratio(traced['stream']['e2e_tok_per_s']['p50'], untraced['stream']['e2e_tok_per_s']['p50']):.2f}"
    )
    names = sorted({name for mode in MODES for name in results[mode]["unary_cpu_ms_per_call"]})
    print_table(
        "CPU ms per call, per process (user + system; span export and storage included)",
        ["call", "mode", *names, "total"],
        [
            [
                call,
                mode,
                *(results[mode][key].get(name, "-") for name in names),
                sum(results[mode][key].values()),
            ]
            for call, key in (("ListModels", "list_cpu_ms_per_call"), ("GetEngineStatus", "unary_cpu_ms_per_call"))
            for mode in MODES
        ],
    )
    print(f"  load average: {', '.join(f'{load:.1f}' for load in results['load_average'])}")


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
