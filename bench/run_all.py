"""Run every benchmark (what `make bench` runs): gateway overhead, mesh vs in-process engines, tracing cost, the
agents service's overhead per turn, synthetic data candidates/s, the OpenAI edge's cost,
the llama.cpp engine's prefix cache and its continuous batching (1 vs 16 streams through the mesh).

    python -m bench.run_all [--quick] [--engines llama-cpp,vllm] [--json-dir DIR]

--quick is a smoke run: few requests, llama-cpp only unless --engines says otherwise.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench import (
    agent_overhead,
    gateway_overhead,
    llama_batching,
    mesh_vs_engine,
    openai_edge,
    prefix_reuse,
    synthetic_data,
    tracing_cost,
)


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
        batching_args = ["--rounds", "1", "--streams", "4", "--max-tokens", "16", "--warmup", "0"]
    else:
        gateway_args = ["--requests", "200", "--chat-requests", "10"]
        engine_args = ["--requests", "10"]
        tracing_args = ["--requests", "200", "--chat-requests", "5"]
        agent_args = ["--turns", "10"]
        sdg_args = ["--dialogs", "4", "--candidates", "4", "--rounds", "3"]
        edge_args = ["--requests", "10"]
        prefix_args = ["--rounds", "10"]
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
        batching_args += ["--json", str(Path(args.json_dir) / "llama_batching.json")]
    started = time.perf_counter()
    print("== gateway_overhead ==", flush=True)
    gateway_overhead.main(gateway_args)
    print("\n== mesh_vs_engine ==", flush=True)
    mesh_vs_engine.main(engine_args + ["--engines", engines])
    print("\n== tracing_cost ==", flush=True)
    tracing_cost.main(tracing_args)
    print("\n== agent_overhead ==", flush=True)
    agent_overhead.main(agent_args)
    print("\n== synthetic_data ==", flush=True)
    synthetic_data.main(sdg_args)
    print("\n== openai_edge ==", flush=True)
    openai_edge.main(edge_args)
    print("\n== prefix_reuse ==", flush=True)
    prefix_reuse.main(prefix_args)
    print("\n== llama_batching ==", flush=True)
    llama_batching.main(batching_args)
    print(f"\nall benchmarks done in {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
