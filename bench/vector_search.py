"""Vector search through the mesh on real sentence embeddings: QueryChunks by a precomputed vector vs Qdrant Edge
called in-process, a short text embedded through the gateway, and Qdrant Edge's HNSW (recall@10, ef) vs exact.

Corpus: docstring sentences of the installed packages with their all-MiniLM-L6-v2 embeddings (bench/text_corpus.py,
cached outside git); the queries are held-out sentences. Where fewer than --n sentences are embedded in the cache,
the rest of the collection is filled with cached embeddings plus small noise (renormalised): exact search costs the
same per point whatever the vectors, so the latency rows hold; the recall rows use real embeddings only.

Latency part, rounds interleaved (medians over all rounds):
  edge direct     the provider's own shard layout (payload, text index) in this process; exact search, with payloads;
  mesh vector     QueryChunks with query_vector through the gateway (local-cpu gateway + inference + vector_io);
  mesh hops       the same call on a one-chunk vector DB: gateway forwarding + vector_io + conversions, no search;
  mesh text       QueryChunks with the query text (vector_io embeds it through the gateway);
  embed           InferenceService.Embeddings of the query text through the gateway;
  embed direct    the same model's embedder in this process, as local-cpu's service runs it (ONNX Runtime, one
                  thread, --embedding-quantization); embed torch: the same on torch (one thread), the backend before.
Target: mesh vector <= 1.2 x (edge direct + mesh hops); embed <= 8 ms.

HNSW part (real embeddings, sizes --hnsw-sizes): build time (optimize()), and for each ef the recall@10 against
exact search and the p50 latency, next to exact search's.

    python -m bench.vector_search --n 100000 --rounds 5 --json vs.json
    python -m bench.vector_search --quick
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, get_args

import grpc
import numpy as np

from bench._common import log, print_table, register_vector_db, running_mesh, summarize, temp_root, write_json
from bench.text_corpus import cached_corpus, corpus, embedding_model_path
from llama_mesh.conversion_cache import model_cache_dir

TOP_K = 10
BATCH = 1000
EMBED_MODEL = "all-MiniLM-L6-v2"


def filled(vectors: np.ndarray, n: int, seed: int = 5) -> np.ndarray:
    """n vectors: the real ones, then real ones again with noise (renormalised) until there are n."""
    if len(vectors) >= n:
        return vectors[:n]
    rng = np.random.default_rng(seed)
    extra = vectors[rng.integers(0, len(vectors), n - len(vectors))]
    extra = extra + rng.normal(0.0, 0.03, extra.shape).astype(np.float32)
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    return np.concatenate([vectors, extra.astype(np.float32)])


def chunk_text(texts: list[str], index: int) -> str:
    return texts[index % len(texts)]


# --- the provider's shard, in this process -------------------------------------------------------------------------


def edge_shard(path: Path, vectors: np.ndarray, texts: list[str], hnsw: Any = None) -> Any:
    from qdrant_edge import Point, UpdateOperation

    from services.vector_io.chunk_points import chunk_payload, point_id
    from services.vector_io.provider import StoredChunk
    from services.vector_io.providers.qdrant_edge import _create_shard

    shard = _create_shard(path, vectors.shape[1], hnsw)
    for first in range(0, len(vectors), BATCH):
        points = []
        for i in range(first, min(first + BATCH, len(vectors))):
            text = chunk_text(texts, i)
            chunk = StoredChunk(str(i), text, {"text": text}, {"document_id": f"doc-{i // 20}"}, [])
            points.append(Point(point_id(str(i)), vectors[i].tolist(), chunk_payload(chunk)))
        shard.update(UpdateOperation.upsert_points(points))
    return shard


def edge_query(shard: Any, vector: np.ndarray, params: Any, payload: bool = True) -> list[str]:
    """The chunk ids of the top hits, payloads read as the service reads them."""
    from qdrant_edge import Query, QueryRequest

    request = QueryRequest(limit=TOP_K, query=Query.Nearest(vector.tolist()), params=params, with_payload=payload)
    return [point.payload["chunk_id"] for point in shard.query(request)]


# --- latency: mesh vs in-process ----------------------------------------------------------------------------------


def latency(
    n: int,
    vectors: np.ndarray,
    texts: list[str],
    queries: np.ndarray,
    query_texts: list[str],
    args: argparse.Namespace,
) -> dict[str, Any]:
    import torch
    from google.protobuf import struct_pb2
    from qdrant_edge import SearchParams

    from llama.common.v1 import content_pb2
    from llama.inference.v1 import inference_pb2, inference_pb2_grpc
    from llama.vector_io.v1 import vector_io_pb2, vector_io_pb2_grpc
    from services.inference.providers.sentence_transformers import SentenceTransformersEmbedder

    data = filled(vectors, n)
    dim = data.shape[1]
    samples: dict[str, list[float]] = {
        k: [] for k in ("edge direct", "mesh vector", "mesh hops", "mesh text", "embed", "embed direct", "embed torch")
    }
    with temp_root("vector-search") as root, tempfile.TemporaryDirectory(prefix="llama-mesh-bench-edge-") as path:
        log(f"edge direct: inserting {n} points")
        shard = edge_shard(Path(path) / "shard", data, texts)
        torch.set_num_threads(1)  # as local-cpu's inference service runs it (threads: 1)
        loop = asyncio.new_event_loop()
        env = {"LLAMA_MESH_EMBEDDING_QUANTIZATION": args.embedding_quantization}
        with (
            contextlib.closing(shard),
            running_mesh("local-cpu", root, args.timeout, also=("vector_io",), env=env) as mesh,
        ):
            # after the mesh: its inference service made the ONNX export these share (same cache)
            cache_dir = model_cache_dir(mesh.config.cache_dir)
            embedders = {
                backend: SentenceTransformersEmbedder(
                    embedding_model_path(),
                    threads=1,
                    backend=backend,
                    name=EMBED_MODEL,
                    cache_dir=cache_dir,
                    quantization=args.embedding_quantization if backend == "onnx" else "none",
                )
                for backend in ("onnx", "torch")
            }
            for embedder in embedders.values():
                loop.run_until_complete(embedder.start())
            options = [("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)]
            with grpc.insecure_channel(mesh.gateway_address, options=options) as channel:
                vector_io = vector_io_pb2_grpc.VectorIOServiceStub(channel)
                inference = inference_pb2_grpc.InferenceServiceStub(channel)
                for db in ("big", "tiny"):
                    register_vector_db(channel, db, EMBED_MODEL, dim)
                started = time.perf_counter()
                for first in range(0, n, BATCH):
                    chunks = []
                    for i in range(first, min(first + BATCH, n)):
                        metadata = struct_pb2.Struct()
                        metadata.update({"document_id": f"doc-{i // 20}"})
                        chunks.append(
                            vector_io_pb2.Chunk(
                                content=content_pb2.Content(text=chunk_text(texts, i)),
                                chunk_id=str(i),
                                embedding=data[i].tolist(),
                                metadata=metadata,
                            )
                        )
                    vector_io.InsertChunks(
                        vector_io_pb2.InsertChunksRequest(vector_db_id="big", chunks=chunks), timeout=600
                    )
                log(f"mesh: inserted {n} chunks in {time.perf_counter() - started:.1f} s")
                vector_io.InsertChunks(
                    vector_io_pb2.InsertChunksRequest(
                        vector_db_id="tiny",
                        chunks=[
                            vector_io_pb2.Chunk(content=content_pb2.Content(text=texts[0]), embedding=data[0].tolist())
                        ],
                    ),
                    timeout=60,
                )

                def by_vector(db: str, index: int) -> Any:
                    request = vector_io_pb2.QueryChunksRequest(
                        vector_db_id=db,
                        query_vector=queries[index].tolist(),
                        params=vector_io_pb2.QueryParams(max_chunks=TOP_K),
                    )
                    return vector_io.QueryChunks(request, timeout=120)

                def by_text(index: int) -> Any:
                    request = vector_io_pb2.QueryChunksRequest(
                        vector_db_id="big",
                        query=content_pb2.Content(text=query_texts[index]),
                        params=vector_io_pb2.QueryParams(max_chunks=TOP_K),
                    )
                    return vector_io.QueryChunks(request, timeout=120)

                def embed(index: int) -> Any:
                    request = inference_pb2.EmbeddingsRequest(
                        model_id=EMBED_MODEL,
                        contents=[query_texts[index]],
                        task_type=inference_pb2.EMBEDDING_TASK_TYPE_QUERY,
                    )
                    return inference.Embeddings(request, timeout=120)

                sides = {
                    "edge direct": lambda i: edge_query(shard, queries[i], SearchParams(exact=True)),
                    "mesh vector": lambda i: by_vector("big", i),
                    "mesh hops": lambda i: by_vector("tiny", i),
                    "mesh text": by_text,
                    "embed": embed,
                    "embed direct": lambda i: loop.run_until_complete(embedders["onnx"].embed([query_texts[i]])),
                    "embed torch": lambda i: loop.run_until_complete(embedders["torch"].embed([query_texts[i]])),
                }
                # Same hits by vector through the mesh as in-process (exact search both sides).
                same = sum(
                    [c.chunk_id for c in by_vector("big", i).chunks]
                    == edge_query(shard, queries[i], SearchParams(exact=True))
                    for i in range(min(20, len(queries)))
                )
                log(f"mesh vs direct: identical top {TOP_K} on {same} of {min(20, len(queries))} queries")
                for call in sides.values():  # warm-up
                    for i in range(3):
                        call(i)
                per_round = args.queries
                for round_index in range(args.rounds):
                    for name, call in sides.items():
                        for k in range(per_round):
                            i = (round_index * per_round + k) % len(queries)
                            t0 = time.perf_counter()
                            call(i)
                            samples[name].append((time.perf_counter() - t0) * 1000)
                    log(
                        f"round {round_index + 1}/{args.rounds}: "
                        + ", ".join(f"{k} {statistics.median(v[-per_round:]):.2f}" for k, v in samples.items())
                    )
    stats = {name: summarize(values) for name, values in samples.items()}
    return {"n": n, "real": min(len(vectors), n), "same_hits": same, "stats": stats}


# --- HNSW vs exact on real embeddings -----------------------------------------------------------------------------


def hnsw(
    size: int, vectors: np.ndarray, texts: list[str], queries: np.ndarray, args: argparse.Namespace
) -> list[dict[str, Any]]:
    from qdrant_edge import SearchParams

    from services.vector_io.providers.qdrant_config import HnswSettings

    # Thresholds of 1 KB: one graph over every point, searched at every size (the provider's defaults leave
    # segments under 10 MB, ~6.6k 384-d points, to exact search).
    settings = HnswSettings(m=args.m, ef_construct=args.ef_construct, indexing_threshold_kb=1, full_scan_threshold_kb=1)
    data = vectors[:size]
    truth = [{str(i) for i in np.argsort(-(data @ q))[:TOP_K]} for q in queries]
    rows = []
    with tempfile.TemporaryDirectory(prefix="llama-mesh-bench-hnsw-") as path:
        shard = edge_shard(Path(path) / "shard", data, texts, settings)
        try:
            started = time.perf_counter()
            shard.optimize()
            build_s = time.perf_counter() - started
            info = shard.info()
            log(f"hnsw N={size}: built in {build_s:.1f} s ({info.indexed_vectors_count}/{info.points_count} indexed)")
            efs: list[int | None] = [None, *(int(ef) for ef in args.efs.split(","))]
            for ef in efs:
                params = SearchParams(exact=True) if ef is None else SearchParams(hnsw_ef=ef)
                for q in queries[:5]:
                    edge_query(shard, q, params)
                found, lat = [], []
                for q in queries:
                    t0 = time.perf_counter()
                    found.append(edge_query(shard, q, params))
                    lat.append((time.perf_counter() - t0) * 1000)
                rec = float(np.mean([len(set(f) & t) / TOP_K for f, t in zip(found, truth, strict=True)]))
                rows.append(
                    {
                        "n": size,
                        "search": "exact" if ef is None else f"hnsw ef={ef}",
                        "build_s": 0.0 if ef is None else build_s,
                        "recall_at_10": rec,
                        **{f"{k}_ms": v for k, v in summarize(lat).items() if k != "n"},
                    }
                )
        finally:
            shard.close()
    return rows


def main(argv: list[str] | None = None) -> None:
    from services.inference.providers.onnx_transformer import Quantization

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="chunks in the latency part")
    parser.add_argument("--queries", type=int, default=40, help="queries per side per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hnsw-sizes", default="10000,100000", help="real-embedding sizes of the HNSW part")
    parser.add_argument("--efs", default="16,32,64,128,256")
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construct", type=int, default=100)
    parser.add_argument("--parts", default="latency,hnsw")
    parser.add_argument("--timeout", type=float, default=900.0, help="mesh start timeout (s)")
    parser.add_argument("--quick", action="store_true", help="2000 chunks, 2 rounds of 10, HNSW at 2000")
    parser.add_argument(
        "--embed-at-least",
        type=int,
        default=10_000,
        help="embed (and cache) this many sentences first if the cache has fewer; run bench.text_corpus for more",
    )
    parser.add_argument(
        "--embedding-quantization",
        choices=get_args(Quantization),
        default="none",
        help="the mesh's (and 'embed direct''s) ONNX embedding quantization (LLAMA_MESH_EMBEDDING_QUANTIZATION)",
    )
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.queries, args.rounds, args.hnsw_sizes = 2000, 10, 2, "2000"
    sizes = [int(s) for s in args.hnsw_sizes.split(",")]
    corpus(min(args.embed_at_least, max([args.n, *sizes])), 200)  # embeds only what the cache lacks
    texts, vectors, query_texts, queries = cached_corpus(200, max([args.n, *sizes]))
    log(f"corpus: {len(vectors)} real embedded sentences cached, {len(queries)} queries")
    result: dict[str, Any] = {"real_available": len(vectors)}
    if "latency" in args.parts:
        lat = latency(args.n, vectors, texts, queries, query_texts, args)
        result["latency"] = lat
        s = lat["stats"]
        print_table(
            f"vector search at {lat['n']} chunks ({lat['real']} real embeddings), top {TOP_K}, "
            f"{args.rounds} interleaved rounds x {args.queries}",
            ["side", "n", "p50 ms", "p90 ms", "mean ms"],
            [[k, v["n"], v["p50"], v["p90"], v["mean"]] for k, v in s.items()],
        )
        target = s["edge direct"]["p50"] + s["mesh hops"]["p50"]
        print(
            f"mesh vector / (edge direct + hops) at p50: {s['mesh vector']['p50'] / target:.2f} (target <= 1.2); "
            f"embed through the gateway p50 {s['embed']['p50']:.2f} ms (target <= 8), in-process "
            f"{s['embed direct']['p50']:.2f} ms; text query p50 {s['mesh text']['p50']:.2f} ms"
        )
    if "hnsw" in args.parts:
        rows = []
        for size in sizes:
            if size > len(vectors):
                log(f"hnsw: only {len(vectors)} real embeddings cached; skipping N={size}")
                continue
            rows.extend(hnsw(size, vectors, texts, queries, args))
        result["hnsw"] = rows
        print_table(
            f"Qdrant Edge HNSW (m={args.m}, ef_construct={args.ef_construct}) vs exact, real MiniLM embeddings",
            ["N", "search", "build s", "recall@10", "p50 ms", "p90 ms"],
            [[r["n"], r["search"], r["build_s"], f"{r['recall_at_10']:.3f}", r["p50_ms"], r["p90_ms"]] for r in rows],
        )
    write_json(args.json, result)


if __name__ == "__main__":
    main()
