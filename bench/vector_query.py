"""Vector query QPS / p50 at N chunks (384-d, cosine): through the mesh vs Qdrant in-process.

Backends, same random unit vectors and queries, run one after the other (never sharing the CPU):
  mesh        local-cpu gateway + inference + vector_io; QueryChunks takes text only, so every query is embedded
              (all-MiniLM-L6-v2, through the gateway) before the search;
  mesh-embed  the same query texts through InferenceService.Embeddings alone (what the mesh query spends embedding);
  qdrant-local  qdrant-client local mode (QdrantClient(path=...)), exact search, called directly;
  qdrant-edge   qdrant-edge-py (Qdrant's engine in-process, HNSW), if installed.
recall@10 of the in-process engines is measured against exact numpy brute force on a sample of the queries.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import grpc
import numpy as np

from bench._common import (
    log,
    print_table,
    ratio,
    register_vector_db,
    running_mesh,
    summarize,
    temp_root,
    write_json,
)

DIM = 384
TOP_K = 10
BATCH = 1000
EMBED_MODEL = "all-MiniLM-L6-v2"
WORDS = [
    "robot",
    "paint",
    "colour",
    "river",
    "mountain",
    "stone",
    "light",
    "music",
    "garden",
    "winter",
    "engine",
    "ocean",
    "market",
    "letter",
]


def random_unit(count: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def exact_top_k(data: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    scores = queries @ data.T
    return [set(np.argpartition(-row, TOP_K)[:TOP_K].tolist()) for row in scores]


def recall(found: Sequence[Iterable[int]], truth: list[set[int]]) -> float:
    return float(np.mean([len(set(f) & t) / TOP_K for f, t in zip(found, truth, strict=True)]))


def timed_queries(run_one: Callable[[int], Any], count: int, warmup: int = 5) -> tuple[dict[str, float], float, list]:
    for index in range(min(warmup, count)):
        run_one(index)
    latencies, results = [], []
    start = time.perf_counter()
    for index in range(count):
        t0 = time.perf_counter()
        results.append(run_one(index))
        latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - start
    return summarize(latencies), count / elapsed, results


def row(backend: str, n: int, insert_s: float, qps: float, lat: dict[str, float], rec: float | None) -> dict[str, Any]:
    return {
        "backend": backend,
        "n": n,
        "insert_s": insert_s,
        "qps": qps,
        "p50_ms": lat["p50"],
        "p90_ms": lat["p90"],
        "recall_at_10": rec,
    }


# --- (a) the mesh -----------------------------------------------------------------------------------------------


def bench_mesh(data: np.ndarray, texts: list[str], timeout: float) -> list[dict[str, Any]]:
    from google.protobuf import struct_pb2

    from llama.common.v1 import content_pb2
    from llama.inference.v1 import inference_pb2, inference_pb2_grpc
    from llama.vector_io.v1 import vector_io_pb2, vector_io_pb2_grpc

    n = len(data)
    with temp_root("vector") as root, running_mesh("local-cpu", root, timeout, also=("vector_io",)) as mesh:
        options = [("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)]
        with grpc.insecure_channel(mesh.gateway_address, options=options) as channel:
            vector_io = vector_io_pb2_grpc.VectorIOServiceStub(channel)
            inference = inference_pb2_grpc.InferenceServiceStub(channel)
            db_id = f"bench-{n}"
            register_vector_db(channel, db_id, EMBED_MODEL, DIM)
            start = time.perf_counter()
            for first in range(0, n, BATCH):
                chunks = [
                    vector_io_pb2.Chunk(
                        content=content_pb2.Content(text=f"chunk {i}"),
                        chunk_id=str(i),
                        embedding=data[i].tolist(),
                        metadata=struct_pb2.Struct(),
                    )
                    for i in range(first, min(first + BATCH, n))
                ]
                vector_io.InsertChunks(
                    vector_io_pb2.InsertChunksRequest(vector_db_id=db_id, chunks=chunks), timeout=600
                )
            insert_s = time.perf_counter() - start

            def query(index: int) -> int:
                reply = vector_io.QueryChunks(
                    vector_io_pb2.QueryChunksRequest(
                        vector_db_id=db_id,
                        query=content_pb2.Content(text=texts[index]),
                        params=vector_io_pb2.QueryParams(max_chunks=TOP_K),
                    ),
                    timeout=120,
                )
                return len(reply.chunks)

            def embed(index: int) -> int:
                reply = inference.Embeddings(
                    inference_pb2.EmbeddingsRequest(model_id=EMBED_MODEL, contents=[texts[index]]), timeout=120
                )
                return len(reply.embeddings)

            lat, qps, _ = timed_queries(query, len(texts))
            embed_lat, embed_qps, _ = timed_queries(embed, len(texts))
        return [
            row("mesh (text query)", n, insert_s, qps, lat, None),
            row("mesh embed only", n, 0.0, embed_qps, embed_lat, None),
        ]


# --- (b) qdrant-client local mode ------------------------------------------------------------------------------


def bench_qdrant_local(data: np.ndarray, queries: np.ndarray, truth: list[set[int]]) -> dict[str, Any]:
    from qdrant_client import QdrantClient, models

    with tempfile.TemporaryDirectory(prefix="llama-mesh-bench-qdrant-") as path:
        client = QdrantClient(path=path)
        try:
            client.create_collection(
                "bench", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE)
            )
            start = time.perf_counter()
            for first in range(0, len(data), BATCH):
                ids = list(range(first, min(first + BATCH, len(data))))
                client.upsert("bench", points=models.Batch(ids=ids, vectors=data[first : first + BATCH].tolist()))
            insert_s = time.perf_counter() - start

            def query(index: int) -> list[int]:
                points = client.query_points("bench", query=queries[index].tolist(), limit=TOP_K).points
                return [int(p.id) for p in points]

            lat, qps, found = timed_queries(query, len(queries))
        finally:
            client.close()
    return row("qdrant-local (direct)", len(data), insert_s, qps, lat, recall(found[: len(truth)], truth))


# --- (c) qdrant-edge-py ------------------------------------------------------------------------------------------


def bench_qdrant_edge(
    data: np.ndarray, queries: np.ndarray, truth: list[set[int]], efs: list[int]
) -> list[dict[str, Any]]:
    try:
        import qdrant_edge  # noqa: F401
    except ImportError:
        log(
            "qdrant-edge-py is not installed: skipping (.venv/bin/pip install -c requirements/constraints.txt "
            "qdrant-edge-py)"
        )
        return []
    return _edge(data, queries, truth, efs)


def _edge(data: np.ndarray, queries: np.ndarray, truth: list[set[int]], efs: list[int]) -> list[dict[str, Any]]:
    from qdrant_edge import (
        Distance,
        EdgeConfig,
        EdgeShard,
        EdgeVectorParams,
        Point,
        Query,
        QueryRequest,
        SearchParams,
        UpdateOperation,
    )

    with tempfile.TemporaryDirectory(prefix="llama-mesh-bench-edge-") as path:
        shard = EdgeShard.create(path, EdgeConfig(vectors=EdgeVectorParams(size=DIM, distance=Distance.Cosine)))
        try:
            start = time.perf_counter()
            for first in range(0, len(data), BATCH):
                points = [Point(id=i, vector=data[i].tolist()) for i in range(first, min(first + BATCH, len(data)))]
                shard.update(UpdateOperation.upsert_points(points))
            upsert_s = time.perf_counter() - start
            shard.optimize()  # builds the HNSW index (default thresholds) before querying
            insert_s = time.perf_counter() - start
            log(f"  edge: upsert {upsert_s:.2f} s, upsert + optimize (HNSW build) {insert_s:.2f} s")

            rows = []
            for ef in efs:
                params = SearchParams(exact=True) if ef < 0 else SearchParams(hnsw_ef=ef) if ef else None

                def query(index: int, params: SearchParams | None = params) -> list[int]:
                    request = QueryRequest(limit=TOP_K, query=Query.Nearest(queries[index].tolist()), params=params)
                    return [int(h.id) for h in shard.query(request)]

                lat, qps, found = timed_queries(query, len(queries))
                name = "qdrant-edge exact" if ef < 0 else f"qdrant-edge ef={ef or 'default'}"
                rows.append(row(name, len(data), insert_s, qps, lat, recall(found[: len(truth)], truth)))
        finally:
            shard.close()
    return rows


# --- main ---------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated chunk counts")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--recall-sample", type=int, default=100, help="queries checked against brute force")
    parser.add_argument("--backends", default="mesh,local,edge")
    parser.add_argument("--quick", action="store_true", help="sizes 2000 only, 50 queries")
    parser.add_argument("--timeout", type=float, default=900.0, help="mesh start timeout (s)")
    parser.add_argument(
        "--edge-ef",
        default="0,128,512,-1",
        help="qdrant-edge hnsw_ef values to query with (0: its default, -1: exact search)",
    )
    parser.add_argument("--json")
    args = parser.parse_args()
    sizes = [2000] if args.quick else [int(s) for s in args.sizes.split(",")]
    count = 50 if args.quick else args.queries
    backends = set(args.backends.split(","))
    efs = [int(ef) for ef in args.edge_ef.split(",")]

    rng = np.random.default_rng(7)
    texts = [" ".join(rng.choice(WORDS, 6)) for _ in range(count)]
    queries = random_unit(count, seed=2)
    rows: list[dict[str, Any]] = []
    for n in sizes:
        data = random_unit(n, seed=1)
        truth = exact_top_k(data, queries[: args.recall_sample])
        if "local" in backends:
            log(f"qdrant-local, N={n}")
            rows.append(bench_qdrant_local(data, queries, truth))
        if "edge" in backends:
            log(f"qdrant-edge, N={n}")
            rows.extend(bench_qdrant_edge(data, queries, truth, efs))
        if "mesh" in backends:
            log(f"mesh, N={n}")
            rows.extend(bench_mesh(data, texts, args.timeout))

    print_table(
        f"vector query, {DIM}-d cosine, top {TOP_K}, {count} queries (sequential)",
        ["backend", "N", "insert s", "QPS", "p50 ms", "p90 ms", "recall@10"],
        [
            [
                r["backend"],
                r["n"],
                r["insert_s"],
                r["qps"],
                r["p50_ms"],
                r["p90_ms"],
                "-" if r["recall_at_10"] is None else f"{r['recall_at_10']:.3f}",
            ]
            for r in rows
        ],
    )
    ratios = []
    for n in sizes:
        by = {r["backend"]: r for r in rows if r["n"] == n}
        direct = by.get("qdrant-local (direct)")
        for name in ("mesh (text query)",):
            if name in by and direct:
                ratios.append(
                    [
                        f"{name} / qdrant-local",
                        n,
                        ratio(by[name]["qps"], direct["qps"]),
                        ratio(by[name]["p50_ms"], direct["p50_ms"]),
                    ]
                )
        for name in (name for name in by if name.startswith("qdrant-edge") and direct):
            ratios.append(
                [
                    f"{name} / qdrant-local",
                    n,
                    ratio(by[name]["qps"], direct["qps"]),
                    ratio(by[name]["p50_ms"], direct["p50_ms"]),
                ]
            )
    if ratios:
        print_table("ratios", ["pair", "N", "QPS ratio", "p50 ratio"], ratios)
    write_json(args.json, {"sizes": sizes, "queries": count, "rows": rows})


if __name__ == "__main__":
    main()
