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
import statistics
import time
from typing import Any, get_args

import numpy as np

from bench._common import log, print_table, write_json
from bench.text_corpus import corpus, embedding_model_path
from bench.vector_query import exact_top_k, recall
from llama_mesh.conversion_cache import model_cache_dir
from llama_mesh.runtime.config import distribution_path, load_run_config


def main(argv: list[str] | None = None) -> None:
    from services.inference.providers.onnx_transformer import Quantization
    from services.inference.providers.sentence_transformers import SentenceTransformersEmbedder

    quantizations: tuple[Quantization, ...] = get_args(Quantization)  # "none" first: the float model compared against

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3000, help="corpus sentences embedded by every side")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5, help="latency: rounds over the queries, sides interleaved")
    parser.add_argument("--latency-queries", type=int, default=40, help="queries per round in the latency part")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    texts, _, query_texts, _ = corpus(args.n, args.queries)
    loop = asyncio.new_event_loop()
    cache_dir = model_cache_dir(load_run_config(distribution_path("local-cpu")).cache_dir)  # its exports, shared
    embedders = {
        quantization: SentenceTransformersEmbedder(
            embedding_model_path(),
            threads=1,
            backend="onnx",
            name="all-MiniLM-L6-v2",
            cache_dir=cache_dir,
            quantization=quantization,
        )
        for quantization in quantizations
    }
    chunks, queries = {}, {}
    for quantization, embedder in embedders.items():
        loop.run_until_complete(embedder.start())  # exports (once, into the model cache) where needed
        started = time.perf_counter()
        chunks[quantization] = np.asarray(loop.run_until_complete(embedder.embed(texts)), dtype=np.float32)
        queries[quantization] = np.asarray(loop.run_until_complete(embedder.embed(query_texts)), dtype=np.float32)
        log(f"{quantization}: embedded {len(texts) + len(query_texts)} texts in {time.perf_counter() - started:.1f} s")

    latency: dict[str, list[float]] = {quantization: [] for quantization in quantizations}
    for _ in range(args.rounds):
        for text in query_texts[: args.latency_queries]:
            for quantization, embedder in embedders.items():
                started = time.perf_counter()
                loop.run_until_complete(embedder.embed([text]))
                latency[quantization].append((time.perf_counter() - started) * 1000)

    truth = exact_top_k(chunks["none"], queries["none"])
    rows: list[dict[str, Any]] = []
    for quantization in quantizations:
        cosine = (queries[quantization] * queries["none"]).sum(axis=1)
        rows.append(
            {
                "quantization": quantization,
                "cosine_min": float(cosine.min()),
                "cosine_mean": float(cosine.mean()),
                "recall_queries": recall(exact_top_k(chunks["none"], queries[quantization]), truth),
                "recall_both": recall(exact_top_k(chunks[quantization], queries[quantization]), truth),
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
