"""Sentence vectors straight from the ONNX transformer: tokenize, run, pool and normalise in numpy.

sentence-transformers' `encode` spends about 1.3 ms of a short query's ~8 ms on its own machinery (feature dicts,
torch tensors, length sorting, a call per module). For the common pipeline, a Hugging Face text transformer then one
pooling (mean, CLS, max) then an optional Normalize, with no prompt, per-task length or truncated dimension, this does
the same arithmetic without it. Any other model or setting keeps sentence-transformers' `encode`
(`OnnxSentenceEncoder.for_model` says which); tests/inference/test_embedder.py holds the two to float rounding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sentence_transformers.base.modules.normalize import Normalize
from sentence_transformers.base.modules.transformer import Transformer
from sentence_transformers.sentence_transformer.modules.pooling import Pooling

from services.inference.providers.onnx_transformer import OnnxTransformer

POOLING_MODES = ("mean", "mean_sqrt_len_tokens", "cls", "max")
# sentence-transformers' own batch: texts sorted by length, 32 at a time, so that a long text pads few short ones
BATCH = 32


class OnnxSentenceEncoder:
    """Encodes texts as `SentenceTransformer.encode(texts, normalize_embeddings=True)` does, for the pipelines it
    supports (see `for_model`), calling ONNX Runtime directly."""

    def __init__(self, transformer: Any, runner: OnnxTransformer, pooling_mode: str) -> None:
        self._tokenizer = transformer.tokenizer
        self._runner = runner
        self._pooling_mode = pooling_mode

    @classmethod
    def for_model(cls, model: Any) -> OnnxSentenceEncoder | None:
        """An encoder for `model` (a SentenceTransformer whose transformer runs on ONNX Runtime), or None where the
        model does more than this encoder knows (then sentence-transformers' `encode` must run)."""
        modules = list(model)
        if len(modules) == 3 and type(modules[2]) is Normalize:
            modules = modules[:2]  # the result is normalised anyway
        if len(modules) != 2 or type(modules[0]) is not Transformer or type(modules[1]) is not Pooling:
            return None
        transformer, pooling = modules
        runner = getattr(transformer, "model", None)
        plain_text = (
            set(transformer.modality_config) == {"text"}
            and not transformer.processing_kwargs
            and transformer.query_length is None
            and transformer.document_length is None
            and getattr(transformer, "query_expansion", None) is None
            and not transformer.do_lower_case
            and model.truncate_dim is None
        )
        if not isinstance(runner, OnnxTransformer) or not plain_text or pooling.pooling_mode not in POOLING_MODES:
            return None
        return cls(transformer, runner, pooling.pooling_mode)

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dimension) float32, unit length rows."""
        if len(texts) <= BATCH:
            return self._encode_batch(texts)
        order = np.argsort([-len(text) for text in texts], kind="stable")
        batches = [
            self._encode_batch([texts[index] for index in order[start : start + BATCH]])
            for start in range(0, len(texts), BATCH)
        ]
        vectors = np.empty((len(texts), batches[0].shape[1]), dtype=np.float32)
        vectors[order] = np.concatenate(batches)
        return vectors

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        # what sentence-transformers' Transformer.preprocess asks of the tokenizer for plain text
        features = self._tokenizer(texts, padding=True, truncation="longest_first", return_tensors="np")
        tokens = self._runner.token_embeddings(features)
        mask = features["attention_mask"].astype(np.float32)[:, :, None]
        if self._pooling_mode == "cls":
            first = features["attention_mask"].argmax(axis=1)  # the first real token, also with left padding
            pooled = tokens[np.arange(len(texts)), first]
        elif self._pooling_mode == "max":
            pooled = np.where(mask > 0, tokens, -np.inf).max(axis=1)
        else:
            counts = np.maximum(mask.sum(axis=1), 1e-9)
            pooled = (tokens * mask).sum(axis=1) / (counts if self._pooling_mode == "mean" else np.sqrt(counts))
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(np.float32, copy=False)
