"""The gateway's ceiling: streamed messages per second through the gateway alone, from 1 to 256 streams at once, with
one gateway process and with several sharing its port.

Behind the gateway, at the inference service's address, runs the benchmark's instant engine (bench/fast_engine.py,
`grpc`: every StreamChatCompletion answered with `--tokens` one-token chunk messages, pre-serialized), so the
gateway does all the work per message there is: route the call, then receive and send each message. The client
(this process) opens `--streams` chats at once, `--total` per point, over several connections (so that gateway
workers sharing a port by SO_REUSEPORT each get some). Around each point the CPU time of every process is read:
gateway CPU per token = its CPU time / tokens forwarded.

With `--token-interval-ms N` the engine sends each message N ms after the last, as a model that is slower than the
mesh does: every message then travels alone, and the CPU per message of each process (the engine sends, the gateway
receives and sends, the client receives) is what one gRPC message costs in grpc.aio, with nothing to share it with.

    python -m bench.gateway_ceiling [--streams 1,4,16,64,256] [--workers 1,2] [--tokens 64] [--token-interval-ms 0]
        [--json out.json]

The client is Python too and shares the machine: on a 2-core machine it takes about as much CPU per message as the
gateway, so the messages/s here are the mesh's with its client, a floor for the gateway's own ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import psutil

from bench import fast_engine
from bench._common import chat_request, log, make_mesh, print_table, temp_root, write_json
from bench.serving_cpu import cpu_seconds
from llama.inference.v1 import inference_pb2_grpc
from llama_mesh.launcher import LocalMesh

READY_TIMEOUT_S = 300.0


def start_gateways(mesh: LocalMesh, workers: int, root: Path) -> list[subprocess.Popen[bytes]]:
    """One gateway (the launcher's) or `workers` of bench.gateway_worker on the gateway's port; returns once each has
    logged that it is ready."""
    if workers == 1:
        mesh.start(timeout=READY_TIMEOUT_S, only={"gateway"})
        return [mesh.processes["gateway"]]
    processes, logs = [], []
    for index in range(workers):
        log_path = root / f"gateway-{index}.log"
        logs.append(log_path)
        with log_path.open("wb") as output:
            command = [sys.executable, "-m", "bench.gateway_worker", "--distribution", str(mesh.config_path)]
            processes.append(subprocess.Popen([*command, "--service", "gateway"], env=mesh.env, stdout=output,
                                              stderr=subprocess.STDOUT))  # fmt: skip
    deadline = time.monotonic() + READY_TIMEOUT_S
    for process, log_path in zip(processes, logs, strict=True):
        while "gateway ready" not in log_path.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                stop(processes)
                raise RuntimeError(f"a gateway worker did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)
    return processes


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


async def load(address: str, streams: int, total: int, tokens: int) -> tuple[int, float]:
    """`total` chats, `streams` at a time, over up to 16 connections; (messages received, seconds)."""
    connections = min(streams, 16)
    channels = [
        grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)]) for _ in range(connections)
    ]
    stubs = [inference_pb2_grpc.InferenceServiceStub(channel) for channel in channels]
    request = chat_request(max_tokens=tokens)
    received = 0
    queue = list(range(total))

    async def worker(index: int) -> None:
        nonlocal received
        stub = stubs[index % connections]
        while queue:
            queue.pop()
            async for _ in stub.StreamChatCompletion(request, timeout=600):
                received += 1

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(index) for index in range(streams)))
    finally:
        for channel in channels:
            await channel.close()
    return received, time.perf_counter() - started


async def wake_cpu_us(interval_s: float, wakes: int = 400) -> float:
    """The CPU one asyncio.sleep(interval_s) costs this process, its wake-up included: the part of the paced engine's
    CPU per message that is its pacing, not gRPC."""
    started = time.process_time()
    for _ in range(wakes):
        await asyncio.sleep(interval_s)
    return (time.process_time() - started) * 1e6 / wakes


def measure(workers: int, points: list[int], total: int, tokens: int, interval_ms: float) -> list[dict[str, Any]]:
    rows = []
    with temp_root(f"ceiling-{workers}") as root:
        mesh = make_mesh("local-cpu", root)
        port = int(mesh.config.service("inference").address.rsplit(":", 1)[1])
        engine = subprocess.Popen(
            [sys.executable, "-m", "bench.fast_engine", "grpc", "--port", str(port), "--tokens", str(tokens)]
            + ["--token-interval-ms", str(interval_ms)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        gateways: list[subprocess.Popen[bytes]] = []
        try:
            fast_engine.wait_for_port(port)
            gateways = start_gateways(mesh, workers, root)
            log(f"{workers} gateway process(es) on {mesh.gateway_address}, the fast engine on port {port}")
            processes = {"gateway": [psutil.Process(p.pid) for p in gateways], "engine": [psutil.Process(engine.pid)]}
            processes["client"] = [psutil.Process()]
            asyncio.run(load(mesh.gateway_address, min(16, total), min(64, total), tokens))  # warm-up
            for streams in points:
                before = {name: sum(cpu_seconds(p) for p in group) for name, group in processes.items()}
                messages, seconds = asyncio.run(load(mesh.gateway_address, streams, max(total, streams), tokens))
                after = {name: sum(cpu_seconds(p) for p in group) for name, group in processes.items()}
                forwarded_tokens = messages * tokens / (tokens + 1)
                cpu = {name: after[name] - before[name] for name in processes}
                rows.append(
                    {
                        "workers": workers,
                        "streams": streams,
                        "messages": messages,
                        "seconds": seconds,
                        "messages_per_s": messages / seconds,
                        "tokens_per_s": forwarded_tokens / seconds,
                        "gateway_cpu_us_per_token": cpu["gateway"] * 1e6 / forwarded_tokens,
                        "gateway_cpu_share": cpu["gateway"] / seconds,
                        "client_cpu_us_per_token": cpu["client"] * 1e6 / forwarded_tokens,
                        "engine_cpu_us_per_token": cpu["engine"] * 1e6 / forwarded_tokens,
                    }
                )
                log(f"  {streams} streams: {messages / seconds:.0f} messages/s")
        finally:
            if workers == 1:
                mesh.stop()
            else:
                stop(gateways)
            engine.terminate()
            engine.wait(timeout=30)
    return rows


def report(results: dict[str, Any]) -> None:
    load_average = ", ".join(f"{value:.1f}" for value in results["load_average"])
    print_table(
        f"Through the gateway alone ({results['params']['tokens']} one-token chunks per stream, the fast engine, "
        f"{results['params']['token_interval_ms']:g} ms between them; load average at the end: {load_average})",
        ["gateways", "streams", "messages/s", "tokens/s", "gateway CPU us/token", "gateway CPU (cores)",
         "client CPU us/token", "engine CPU us/token"],
        [
            [r["workers"], r["streams"], r["messages_per_s"], r["tokens_per_s"], r["gateway_cpu_us_per_token"],
             r["gateway_cpu_share"], r["client_cpu_us_per_token"], r["engine_cpu_us_per_token"]]
            for r in results["rows"]
        ],
    )  # fmt: skip
    if "asyncio_wake_cpu_us" in results:
        wake = results["asyncio_wake_cpu_us"]
        print(f"  one asyncio.sleep wake-up costs {wake:.0f} us of CPU here (the engine pays one per message)")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", default="1,4,16,64,256", help="streams at once, per point")
    parser.add_argument("--workers", default="1,2", help="gateway processes sharing the port, per series")
    parser.add_argument("--total", type=int, default=256, help="chats per point (at least --streams)")
    parser.add_argument("--tokens", type=int, default=64, help="chunk messages per chat")
    parser.add_argument("--token-interval-ms", type=float, default=0.0, help="engine: time between messages")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    points = [int(value) for value in args.streams.split(",")]
    rows = []
    for workers in (int(value) for value in args.workers.split(",")):
        rows += measure(workers, points, args.total, args.tokens, args.token_interval_ms)
    results = {
        "benchmark": "gateway_ceiling",
        "params": {
            "streams": points,
            "total": args.total,
            "tokens": args.tokens,
            "token_interval_ms": args.token_interval_ms,
        },
        "load_average": list(psutil.getloadavg()),
        "rows": rows,
    }
    if args.token_interval_ms:
        results["asyncio_wake_cpu_us"] = asyncio.run(wake_cpu_us(args.token_interval_ms / 1000))
    report(results)
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
