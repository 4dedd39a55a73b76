"""`inline::qdrant` settings: which Qdrant engine holds the collections, and where.

- `edge` (the embedded default): Qdrant's engine in-process (qdrant-edge-py), one shard per collection under `path`
  (default <data_dir>/vector_io/<provider_id>/edge); exact vector search, so recall is 1.0 (bench/vector_query.py).
- `local`: qdrant-client's embedded local mode under `path` (default <data_dir>/vector_io/<provider_id>).
- `server`: a Qdrant server at `url` (REST, or gRPC with `prefer_grpc`).
Without `engine`, a `url` means `server` and no `url` means `edge`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

Engine = Literal["edge", "local", "server"]


class QdrantConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    engine: Engine | None = None
    path: str | None = None
    url: str | None = None
    prefer_grpc: bool = False
    api_key: str | None = None
    timeout_s: int | None = None

    @model_validator(mode="after")
    def _engine_fits_url(self) -> QdrantConfig:
        if self.engine is None:
            self.engine = "server" if self.url else "edge"
        if self.engine == "server" and not self.url:
            raise ValueError("engine 'server' needs the Qdrant server's url")
        if self.engine != "server" and self.url:
            raise ValueError(f"engine {self.engine!r} is embedded and takes no url (use engine: server)")
        return self
