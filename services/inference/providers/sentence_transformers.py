"""Embedder over sentence-transformers; loading and encoding run in worker threads."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sentence_transformers import SentenceTransformer

from services.inference.provider import Embedder, ModelLoadError


class SentenceTransformersEmbedder(Embedder):
    """A sentence-transformers model (a local directory) producing L2-normalised embeddings."""

    def __init__(self, model_path: str, device: str = "cpu") -> None:
        self._model_path = model_path
        self._device = device
        self._model: SentenceTransformer | None = None

    @property
    def dimension(self) -> int:
        model = self._require_model()
        # sentence-transformers 6 renamed get_sentence_embedding_dimension to get_embedding_dimension
        get_dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return get_dimension()

    @property
    def context_length(self) -> int:
        return self._require_model().max_seq_length

    async def start(self) -> None:
        self._model = await asyncio.to_thread(self._load)

    def _load(self) -> SentenceTransformer:
        if not Path(self._model_path).exists():
            raise ModelLoadError(f"embedding model not found: {self._model_path}")
        try:
            return SentenceTransformer(self._model_path, device=self._device)
        except Exception as exc:
            raise ModelLoadError(f"cannot load {self._model_path} with sentence-transformers: {exc}") from exc

    async def close(self) -> None:
        self._model = None

    async def embed(self, texts: list[str]) -> list[list[float]]:
        model = self._require_model()
        if not texts:
            return []
        vectors = await asyncio.to_thread(model.encode, texts, normalize_embeddings=True, convert_to_numpy=True)
        return vectors.tolist()

    def _require_model(self) -> SentenceTransformer:
        if self._model is None:
            raise RuntimeError("the embedder is not started")
        return self._model
