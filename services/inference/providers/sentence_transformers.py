"""Embedder over sentence-transformers; loading and encoding run in worker threads."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Literal

import torch
from sentence_transformers import SentenceTransformer

from llama_mesh.conversion_cache import ModelConversionError
from llama_mesh.runtime.errors import InvalidArgument
from services.inference.provider import Embedder, ModelLoadError
from services.inference.providers.onnx_sentence_encoder import OnnxSentenceEncoder
from services.inference.providers.onnx_transformer import OnnxTransformer, Quantization, ensure_onnx_export


class SentenceTransformersEmbedder(Embedder):
    """A sentence-transformers model (a local directory) producing L2-normalised embeddings."""

    def __init__(
        self,
        model_path: str,
        device: str = "cpu",
        threads: int | None = None,
        backend: Literal["torch", "onnx"] = "torch",
        name: str = "",
        cache_dir: str = "",
        quantization: Quantization = "none",
    ) -> None:
        """`backend` "onnx": the transformer exported once into `cache_dir` (under `name`, with `quantization`) and
        run by ONNX Runtime with `threads` threads; "torch": as sentence-transformers loads it, torch on `threads`
        threads."""
        if backend == "onnx" and (device != "cpu" or not cache_dir):
            raise ValueError("the onnx backend runs on the CPU and needs a cache directory for the export")
        if quantization != "none" and backend != "onnx":
            raise ValueError("quantization applies to the onnx backend")
        self._model_path = model_path
        self._device = device
        self._threads = threads
        self._backend = backend
        self._name = name or Path(model_path).name
        self._cache_dir = cache_dir
        self._quantization = quantization
        self._model: SentenceTransformer | None = None
        self._direct: OnnxSentenceEncoder | None = None  # onnx: encodes without sentence-transformers' machinery

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
            model = SentenceTransformer(self._model_path, device=self._device)
        except Exception as exc:
            raise ModelLoadError(f"cannot load {self._model_path} with sentence-transformers: {exc}") from exc
        if self._backend == "onnx":
            self._run_on_onnx(model)
            self._direct = OnnxSentenceEncoder.for_model(model)
        return model

    def _run_on_onnx(self, model: SentenceTransformer) -> None:
        transformer: Any = model[0]  # sentence-transformers' Transformer module
        if not hasattr(transformer, "auto_model"):
            raise ModelLoadError(f"{self._model_path}: the onnx backend needs a Hugging Face transformer module first")
        try:
            onnx_path = ensure_onnx_export(
                transformer, Path(self._model_path), self._name, self._cache_dir, self._quantization
            )
        except ModelConversionError as exc:
            raise ModelLoadError(str(exc)) from exc
        # sentence-transformers (>= 6) keeps the Hugging Face model in `.model` and calls its forward with the
        # tokenizer's tensors; the stand-in answers those calls from ONNX Runtime.
        transformer.model = OnnxTransformer(onnx_path, transformer.auto_model.config, self._threads)

    async def close(self) -> None:
        self._model = self._direct = None

    async def embed(self, texts: list[str], truncation: str = "end", task: str = "") -> list[list[float]]:
        if not texts:
            return []
        return await asyncio.to_thread(self._encode, texts, truncation, task)

    def _encode(self, texts: list[str], truncation: str, task: str) -> list[list[float]]:
        model = self._require_model()
        if self._threads is not None and self._backend == "torch":
            # Per thread (OpenMP's setting is), so here in the worker thread that encodes.
            torch.set_num_threads(self._threads)
        if truncation != "end":  # sentence-transformers itself cuts at the end
            texts = self._fitted(model, texts, truncation)
        prompts = getattr(model, "prompts", None) or {}
        prompt_name = task if task and task in prompts else None
        if self._direct is not None and not prompts.get(prompt_name or model.default_prompt_name or ""):
            return self._direct.encode(texts).tolist()
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
