"""The provider interface of the vector_io service: a `VectorStore` holds one collection per registered vector DB.

The servicer only talks to this interface; `providers/qdrant_edge.EdgeVectorStore` (Qdrant Edge, the default) and
`providers/qdrant.QdrantVectorStore` (qdrant-client) implement it, and another engine
plugs in by implementing the same methods and adding its factory to `providers.PROVIDER_TYPES`.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from llama_mesh.runtime.errors import NotFound

# Equality filters on top-level metadata keys: each value is a string, a number or a boolean.
MetadataFilter = dict[str, str | float | bool]


class SearchMode(enum.Enum):
    VECTOR = "vector"
    KEYWORD = "keyword"
    HYBRID = "hybrid"


@dataclass
class StoredChunk:
    chunk_id: str
    # The searchable text of the chunk (text items joined with spaces).
    text: str
    # The chunk's content as given (proto JSON of llama.common.v1.Content), returned as it was stored.
    content: dict[str, Any]
    metadata: dict[str, Any]
    embedding: list[float] = field(default_factory=list)


@dataclass
class ChunkHit:
    chunk: StoredChunk
    score: float


@dataclass
class SearchQuery:
    mode: SearchMode
    text: str
    # The query's embedding; required by VECTOR and HYBRID, ignored by KEYWORD.
    embedding: list[float] | None
    limit: int
    score_threshold: float | None = None
    metadata_filter: MetadataFilter = field(default_factory=dict)


def refuse_if_dropped(collection: str, dropped: set[str]) -> None:
    """NOT_FOUND for a collection dropped since the service started (its vector DB was unregistered while a write was
    on its way): the write must not create it again."""
    if collection in dropped:
        raise NotFound(
            f"the vector DB of collection {collection!r} was unregistered; register it again to write to it",
            reason="VECTOR_DB_NOT_FOUND",
        )


class VectorStore(ABC):
    """Collections of chunks, named by the vector DB's provider_resource_id. Implementations keep their data across
    restarts and never block the event loop."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect or open local storage; called once before serving."""

    async def collections(self) -> list[str]:
        """The names of the collections on storage (for the orphan sweep); an engine that cannot list them: []."""
        return []

    @abstractmethod
    async def create_collection(self, name: str, dimension: int) -> None:
        """Make the collection exist, empty, with this dimension (a vector DB is being registered): whatever a
        collection of that name held before (a vector DB unregistered, or one whose registration did not complete) is
        removed, so a new registration never inherits old chunks."""

    @abstractmethod
    async def drop_collection(self, name: str) -> None:
        """Remove the collection and its chunks; dropping an unknown collection is not an error. Until it is created
        again, writes to it are NOT_FOUND (an insert that raced the unregister must not bring it back)."""

    @abstractmethod
    async def upsert(self, name: str, dimension: int, chunks: list[StoredChunk]) -> None:
        """Add chunks (every one with an embedding of `dimension` values); same chunk_id replaces."""

    @abstractmethod
    async def search(self, name: str, dimension: int, query: SearchQuery) -> list[ChunkHit]:
        """Best first; higher scores are better."""

    @abstractmethod
    async def delete_ids(self, name: str, dimension: int, chunk_ids: list[str]) -> int:
        """Remove these chunks; returns how many existed."""

    @abstractmethod
    async def delete_matching(self, name: str, dimension: int, metadata_filter: MetadataFilter) -> int:
        """Remove every chunk whose metadata matches; returns how many were removed."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Flush and release storage."""
