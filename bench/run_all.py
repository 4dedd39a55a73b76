"""Run every benchmark (what `make bench` runs): serving CPU per stream (mesh vs llama_cpp.server vs in-process),
the gateway's ceiling, gateway overhead, mesh vs in-process engines, tracing cost, the agents service's overhead per
turn, synthetic data candidates/s, the OpenAI edge's cost, the llama.cpp engine's prefix cache and its continuous
batching (1 vs 16 streams through the mesh), vector search through the mesh; then the headline ratios again, together.

    python -m bench.run_all [--quick] [--engines llama-cpp,vllm] [--json-dir DIR]

--quick is a smoke run: few requests, llama-cpp only unless --engines says otherwise.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench import (
    agent_overhead,
    gateway_ceiling,
    gateway_overhead,
    llama_batching,
    mesh_vs_engine,
    openai_edge,
    prefix_reuse,
    serving_cpu,
    synthetic_data,
    tracing_cost,
    vector_search,
)
from bench._common import ratio


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--engines", help="engines for mesh_vs_engine (default: llama-cpp,vllm; --quick: llama-cpp)")
    parser.add_argument("--json-dir", metavar="DIR", help="write <benchmark>.json files here")
    args = parser.parse_args(argv)
    engines = args.engines or ("llama-cpp" if args.quick else "llama-cpp,vllm")
    if args.quick:
        gateway_args = ["--requests", "20", "--chat-requests", "2", "--warmup", "5", "--max-tokens", "16"]
        engine_args = ["--requests", "2", "--warmup", "1", "--max-tokens", "16"]
        tracing_args = ["--requests", "20", "--chat-requests", "1", "--warmup", "5", "--max-tokens", "16"]
        agent_args = ["--turns", "2", "--max-tokens", "16"]
        sdg_args = ["--dialogs", "2", "--candidates", "2", "--rounds", "1", "--max-tokens", "16"]
        edge_args = ["--requests", "2", "--warmup", "1", "--max-tokens", "16"]
        prefix_args = ["--rounds", "2"]
        vector_args = ["--quick"]
        serving_args = ["--rounds", "1", "--singles", "2", "--concurrent", "4", "--max-tokens", "16"]
        ceiling_args = ["--streams", "1,16", "--workers", "1", "--total", "32", "--tokens", "16"]
        batching_args = ["--rounds", "1", "--streams", "4", "--max-tokens", "16", "--warmup", "0"]
    else:
        gateway_args = ["--requests", "200", "--chat-requests", "10"]
        engine_args = ["--requests", "10"]
        tracing_args = ["--requests", "200", "--chat-requests", "5"]
        agent_args = ["--turns", "10"]
        sdg_args = ["--dialogs", "4", "--candidates", "4", "--rounds", "3"]
        edge_args = ["--requests", "10"]
        prefix_args = ["--rounds", "10"]
        vector_args = ["--n", "100000", "--rounds", "5", "--queries", "30"]
        serving_args = ["--rounds", "3"]
        ceiling_args = ["--streams", "1,4,16,64,256", "--workers", "1,2", "--total", "256"]
        batching_args = ["--rounds", "3"]
    if args.json_dir:
        Path(args.json_dir).mkdir(parents=True, exist_ok=True)
        gateway_args += ["--json", str(Path(args.json_dir) / "gateway_overhead.json")]
        engine_args += ["--json", str(Path(args.json_dir) / "mesh_vs_engine.json")]
        tracing_args += ["--json", str(Path(args.json_dir) / "tracing_cost.json")]
        agent_args += ["--json", str(Path(args.json_dir) / "agent_overhead.json")]
        sdg_args += ["--json", str(Path(args.json_dir) / "synthetic_data.json")]
        edge_args += ["--json", str(Path(args.json_dir) / "openai_edge.json")]
        prefix_args += ["--json", str(Path(args.json_dir) / "prefix_reuse.json")]
        vector_args += ["--json", str(Path(args.json_dir) / "vector_search.json")]
        serving_args += ["--json", str(Path(args.json_dir) / "serving_cpu.json")]
        ceiling_args += ["--json", str(Path(args.json_dir) / "gateway_ceiling.json")]
        batching_args += ["--json", str(Path(args.json_dir) / "llama_batching.json")]
    started = time.perf_counter()
    print("== serving_cpu ==", flush=True)
    serving = serving_cpu.main(serving_args)
    print("\n== gateway_ceiling ==", flush=True)
    ceiling = gateway_ceiling.main(ceiling_args)
    print("\n== gateway_overhead ==", flush=True)
    gateway_overhead.main(gateway_args)
    print("\n== mesh_vs_engine ==", flush=True)
    mesh_vs_engine.main(engine_args + ["--engines", engines])
    print("\n== tracing_cost ==", flush=True)
    tracing = tracing_cost.main(tracing_args)
    print("\n== agent_overhead ==", flush=True)
    agent_overhead.main(agent_args)
    print("\n== synthetic_data ==", flush=True)
    synthetic_data.main(sdg_args)
    print("\n== openai_edge ==", flush=True)
    openai_edge.main(edge_args)
    print("\n== prefix_reuse ==", flush=True)
    prefix_reuse.main(prefix_args)
    print("\n== vector_search ==", flush=True)
    vector_search.main(vector_args)
    print("\n== llama_batching ==", flush=True)
    llama_batching.main(batching_args)
    headline(serving, ceiling, tracing)
    print(f"\nall benchmarks done in {time.perf_counter() - started:.0f}s")


def headline(serving: dict, ceiling: dict, tracing: dict) -> None:
    """The numbers the performance targets are about, from the runs above."""
    print("\n== headline ==")
    for shape, modes in serving["summary"].items():
        mesh, server = modes["mesh"], modes["server"]
        line = (
            f"{shape}: serving CPU (gateway + inference) {mesh['serving_cpu_ms']:.1f} ms per stream "
            f"(gateway {mesh['cpu_ms:gateway']:.1f}, inference {mesh['cpu_ms:inference']:.1f}; the engine server "
            f"{mesh['cpu_ms:engine server']:.1f}); mesh/server tok/s "
            f"x{ratio(mesh['tok_per_s'], server['tok_per_s']):.2f}"
            f", TTFT x{ratio(mesh['ttft_ms'], server['ttft_ms']):.2f}"
        )
        if "in-process" in modes:
            inproc = modes["in-process"]
            line += (
                f"; mesh/in-process tok/s x{ratio(mesh['tok_per_s'], inproc['tok_per_s']):.2f}, "
                f"TTFT x{ratio(mesh['ttft_ms'], inproc['ttft_ms']):.2f}"
            )
        print(line)
    untraced, traced = tracing["untraced"], tracing["traced"]
    print(
        f"tracing: traced/untraced ListModels p50 x{ratio(traced['list_ms']['p50'], untraced['list_ms']['p50']):.2f}, "
        f"forwarded unary p50 x{ratio(traced['unary_ms']['p50'], untraced['unary_ms']['p50']):.2f}"
    )
    for workers in sorted({row["workers"] for row in ceiling["rows"]}):
        best = max((row for row in ceiling["rows"] if row["workers"] == workers), key=lambda r: r["messages_per_s"])
        print(
            f"gateway ceiling, {workers} process(es): {best['messages_per_s']:.0f} messages/s at {best['streams']} "
            f"streams, {best['gateway_cpu_us_per_token']:.0f} us of gateway CPU per token"
        )
    print(f"load average: {', '.join(f'{v:.1f}' for v in serving['load_average'])} (after serving_cpu)")


if __name__ == "__main__":
    main()
