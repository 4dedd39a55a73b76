"""`inline::qdrant` settings: which Qdrant engine holds the collections, and where.

- `edge` (the embedded default): Qdrant's engine in-process (qdrant-edge-py), one shard per collection under `path`
  (default <data_dir>/vector_io/<provider_id>/edge). `vector_index` picks its vector search: `exact` (the default;
  recall 1.0) or `hnsw` (approximate, with `hnsw: {m, ef_construct, ef}`; for large, mostly-read collections, see
  docs/vector-search.md and bench/README.md for where it pays and the recall it keeps).
- `local`: qdrant-client's embedded local mode under `path` (default <data_dir>/vector_io/<provider_id>).
- `server`: a Qdrant server at `url` (REST, or gRPC with `prefer_grpc`).
Without `engine`, a `url` means `server` and no `url` means `edge`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Engine = Literal["edge", "local", "server"]
VectorIndex = Literal["exact", "hnsw"]


class HnswSettings(BaseModel):
    """Qdrant's HNSW graph: `m` edges per node and `ef_construct` candidates while building it (more: better recall,
    slower build, more memory); `ef` candidates per search (more: better recall, slower queries). The default `ef`
    kept recall@10 >= 0.99 against exact search on 10k-40k real all-MiniLM-L6-v2 embeddings (bench/README.md)."""

    model_config = ConfigDict(extra="forbid")
    m: int = Field(16, ge=4, le=128)
    ef_construct: int = Field(100, ge=4, le=1000)
    ef: int = Field(64, ge=1, le=4096)
    # Qdrant's thresholds, in KB of vectors (a 384-d float vector is 1.5 KB): segments larger than
    # indexing_threshold_kb get a graph; searches of segments smaller than full_scan_threshold_kb scan them exactly.
    indexing_threshold_kb: int = Field(10_000, ge=1)
    full_scan_threshold_kb: int = Field(10_000, ge=1)
    # The graph is built (qdrant-edge's optimize(), in the service process) once a collection has had no writes for
    # this long; until then new points are searched exactly, so results stay right.
    build_delay_s: float = Field(2.0, ge=0.0)


class QdrantConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    engine: Engine | None = None
    path: str | None = None
    url: str | None = None
    prefer_grpc: bool = False
    api_key: str | None = None
    timeout_s: int | None = None
    vector_index: VectorIndex = "exact"
    hnsw: HnswSettings = Field(default_factory=HnswSettings)

    @model_validator(mode="after")
    def _engine_fits_url(self) -> QdrantConfig:
        if self.engine is None:
            self.engine = "server" if self.url else "edge"
        if self.vector_index != "exact" and self.engine != "edge":
            raise ValueError(f"vector_index {self.vector_index!r} is a setting of engine 'edge'")
        if self.engine == "server" and not self.url:
            raise ValueError("engine 'server' needs the Qdrant server's url")
        if self.engine != "server" and self.url:
            raise ValueError(f"engine {self.engine!r} is embedded and takes no url (use engine: server)")
        return self
