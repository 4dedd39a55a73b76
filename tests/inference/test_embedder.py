"""SentenceTransformersEmbedder against a real model (all-MiniLM-L6-v2, offline)."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("sentence_transformers")

from services.inference.provider import ModelLoadError
from services.inference.providers.sentence_transformers import SentenceTransformersEmbedder

pytestmark = pytest.mark.asyncio


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))  # the vectors are unit length


async def test_dimension_and_unit_norm(embedder: SentenceTransformersEmbedder) -> None:
    assert embedder.dimension == 384
    assert embedder.context_length > 0
    vectors = await embedder.embed(["The cat sits on the mat.", "Stock markets fell sharply today."])
    assert len(vectors) == 2
    for vector in vectors:
        assert len(vector) == 384
        assert math.sqrt(sum(x * x for x in vector)) == pytest.approx(1.0, abs=1e-4)


async def test_paraphrase_ranks_above_unrelated(embedder: SentenceTransformersEmbedder) -> None:
    query, paraphrase, unrelated = await embedder.embed(
        [
            "How do I reset my password?",
            "What are the steps to change my login password?",
            "The recipe needs two cups of flour.",
        ]
    )
    assert cosine(query, paraphrase) > cosine(query, unrelated) + 0.2


async def test_order_is_kept_and_empty_input(embedder: SentenceTransformersEmbedder) -> None:
    texts = ["first sentence", "second, different sentence"]
    together = await embedder.embed(texts)
    one_by_one = [(await embedder.embed([text]))[0] for text in texts]
    for a, b in zip(together, one_by_one, strict=True):
        assert cosine(a, b) == pytest.approx(1.0, abs=1e-4)
    assert await embedder.embed([]) == []


async def test_missing_model() -> None:
    with pytest.raises(ModelLoadError):
        await SentenceTransformersEmbedder("/nonexistent/minilm").start()
