"""What each ONNX quantization of the embedding model costs in retrieval and saves in time, on real sentences.

For each `quantization` of `inline::sentence-transformers` (backend onnx, one thread, as local-cpu runs it), the
service's own embedder class embeds --n corpus sentences and --queries held-out queries (bench/text_corpus.py), and
reports against the float model (`none`):
  cosine          of each query's vector to its float vector (min, mean);
  recall@10 q     the float model's top 10 (exact search over the float chunks) found with quantized queries on the
                  float chunks: a vector DB embedded before the setting changed;
  recall@10 both  the same with the chunks embedded quantized too: a vector DB embedded with the setting;
  query p50 ms    one query embedded in this process (sides interleaved, query by query), the latency a short query
                  adds before the mesh's hops.

    python -m bench.embedding_quantization --n 3000 --queries 200
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from typing import Any

import numpy as np

from bench._common import log, print_table, write_json
from bench.text_corpus import corpus, embedding_model_path
from llama_mesh.conversion_cache import model_cache_dir

QUANTIZATIONS = ("none", "int8-block", "int8")
TOP_K = 10


def top_k(chunks: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    return [set(np.argsort(-(chunks @ query))[:TOP_K].tolist()) for query in queries]


def recall(found: list[set[int]], truth: list[set[int]]) -> float:
    return float(np.mean([len(a & b) / TOP_K for a, b in zip(found, truth, strict=True)]))


def main(argv: list[str] | None = None) -> None:
    from services.inference.providers.sentence_transformers import SentenceTransformersEmbedder

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3000, help="corpus sentences embedded by every side")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5, help="latency: rounds over the queries, sides interleaved")
    parser.add_argument("--latency-queries", type=int, default=40, help="queries per round in the latency part")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    texts, _, query_texts, _ = corpus(args.n, args.queries)
    loop = asyncio.new_event_loop()
    embedders = {
        quantization: SentenceTransformersEmbedder(
            embedding_model_path(),
            threads=1,
            backend="onnx",
            name="all-MiniLM-L6-v2",
            cache_dir=model_cache_dir(os.environ.get("LLAMA_MESH_CACHE_DIR", "~/.cache/llama-mesh")),  # local-cpu's
            quantization=quantization,
        )
        for quantization in QUANTIZATIONS
    }
    chunks, queries = {}, {}
    for quantization, embedder in embedders.items():
        loop.run_until_complete(embedder.start())  # exports (once, into the model cache) where needed
        started = time.perf_counter()
        chunks[quantization] = np.asarray(loop.run_until_complete(embedder.embed(texts)), dtype=np.float32)
        queries[quantization] = np.asarray(loop.run_until_complete(embedder.embed(query_texts)), dtype=np.float32)
        log(f"{quantization}: embedded {len(texts) + len(query_texts)} texts in {time.perf_counter() - started:.1f} s")

    latency: dict[str, list[float]] = {quantization: [] for quantization in QUANTIZATIONS}
    for _ in range(args.rounds):
        for text in query_texts[: args.latency_queries]:
            for quantization, embedder in embedders.items():
                started = time.perf_counter()
                loop.run_until_complete(embedder.embed([text]))
                latency[quantization].append((time.perf_counter() - started) * 1000)

    truth = top_k(chunks["none"], queries["none"])
    rows: list[dict[str, Any]] = []
    for quantization in QUANTIZATIONS:
        cosine = (queries[quantization] * queries["none"]).sum(axis=1)
        rows.append(
            {
                "quantization": quantization,
                "cosine_min": float(cosine.min()),
                "cosine_mean": float(cosine.mean()),
                "recall_queries": recall(top_k(chunks["none"], queries[quantization]), truth),
                "recall_both": recall(top_k(chunks[quantization], queries[quantization]), truth),
                "query_p50_ms": statistics.median(latency[quantization]),
            }
        )
    for embedder in embedders.values():
        loop.run_until_complete(embedder.close())
    print_table(
        f"embedding quantization vs float, {len(texts)} sentences, {len(query_texts)} queries, "
        f"latency {args.rounds} interleaved rounds x {args.latency_queries}",
        ["quantization", "cosine min", "cosine mean", "recall@10 q", "recall@10 both", "query p50 ms"],
        [
            [
                r["quantization"],
                f"{r['cosine_min']:.4f}",
                f"{r['cosine_mean']:.4f}",
                f"{r['recall_queries']:.3f}",
                f"{r['recall_both']:.3f}",
                r["query_p50_ms"],
            ]
            for r in rows
        ],
    )
    base = rows[0]["query_p50_ms"]
    print("query time / float: " + ", ".join(f"{r['quantization']} {r['query_p50_ms'] / base:.2f}" for r in rows[1:]))
    write_json(args.json, {"n": len(texts), "queries": len(query_texts), "rows": rows})


if __name__ == "__main__":
    main()
