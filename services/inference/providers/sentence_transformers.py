"""Embedder over sentence-transformers; loading and encoding run in worker threads."""

from __future__ import annotations

import asyncio
from pathlib import Path

import torch
from sentence_transformers import SentenceTransformer

from llama_mesh.runtime.errors import InvalidArgument
from services.inference.provider import Embedder, ModelLoadError


class SentenceTransformersEmbedder(Embedder):
    """A sentence-transformers model (a local directory) producing L2-normalised embeddings."""

    def __init__(self, model_path: str, device: str = "cpu", torch_threads: int | None = None) -> None:
        self._model_path = model_path
        self._device = device
        self._torch_threads = torch_threads
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

    async def embed(self, texts: list[str], truncation: str = "end", task: str = "") -> list[list[float]]:
        if not texts:
            return []
        return await asyncio.to_thread(self._encode, texts, truncation, task)

    def _encode(self, texts: list[str], truncation: str, task: str) -> list[list[float]]:
        model = self._require_model()
        if self._torch_threads is not None:
            # Per thread (OpenMP's setting is), so here in the worker thread that encodes.
            torch.set_num_threads(self._torch_threads)
        if truncation != "end":  # sentence-transformers itself cuts at the end
            texts = self._fitted(model, texts, truncation)
        prompt_name = task if task and task in (getattr(model, "prompts", None) or {}) else None
        vectors = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, prompt_name=prompt_name)
        return vectors.tolist()

    @staticmethod
    def _fitted(model: SentenceTransformer, texts: list[str], truncation: str) -> list[str]:
        """The texts, refused ("none") or cut at their start ("start") where they are longer than the model reads."""
        tokenizer = model.tokenizer
        room = model.max_seq_length - tokenizer.num_special_tokens_to_add()
        fitted = []
        for index, (text, ids) in enumerate(
            zip(texts, tokenizer(texts, add_special_tokens=False)["input_ids"], strict=True)
        ):
            if len(ids) <= room:
                fitted.append(text)
            elif truncation == "none":
                raise InvalidArgument(
                    f"contents[{index}]",
                    f"is {len(ids)} tokens; this model reads at most {room} (text_truncation NONE refuses longer "
                    "texts; END or START cut them)",
                    reason="INPUT_TOO_LONG",
                )
            else:
                fitted.append(tokenizer.decode(ids[-room:]))
        return fitted

    def _require_model(self) -> SentenceTransformer:
        if self._model is None:
            raise RuntimeError("the embedder is not started")
        return self._model
