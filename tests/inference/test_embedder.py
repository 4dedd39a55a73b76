"""SentenceTransformersEmbedder against a real model (all-MiniLM-L6-v2, offline)."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("sentence_transformers")

from llama_mesh.runtime.errors import InvalidArgument
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


LONG = " ".join(f"word{number}" for number in range(400)) + " the final sentence is about volcanoes erupting."


async def test_truncation_none_refuses_a_text_too_long_for_the_model(
    embedder: SentenceTransformersEmbedder,
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await embedder.embed(["short", LONG], truncation="none")
    assert caught.value.field == "contents[1]" and caught.value.reason == "INPUT_TOO_LONG"
    assert len((await embedder.embed(["short"], truncation="none"))[0]) == 384


async def test_truncation_start_keeps_the_end_of_the_text(embedder: SentenceTransformersEmbedder) -> None:
    end, topic = await embedder.embed([LONG, "volcanoes erupting"], truncation="end")
    (start,) = await embedder.embed([LONG], truncation="start")
    assert cosine(end, start) < 0.99  # the two cuts embed different parts of the text
    assert cosine(start, topic) > cosine(end, topic)  # START kept the sentence at the end


async def test_a_task_selects_the_models_prompt_where_it_has_one(embedder: SentenceTransformersEmbedder) -> None:
    model = embedder._require_model()
    saved = dict(model.prompts)
    try:
        model.prompts = {"query": "search query: ", "document": "search document: "}
        plain, query, document = [
            (await embedder.embed(["how tall is the tower"], task=task))[0] for task in ("", "query", "document")
        ]
        assert cosine(plain, query) < 0.999 and cosine(query, document) < 0.999
        model.prompts = {}
        assert cosine((await embedder.embed(["how tall is the tower"], task="query"))[0], plain) > 0.9999
    finally:
        model.prompts = saved


async def test_torch_threads_apply_to_the_thread_that_encodes(
    minilm_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import torch

    real, calls = torch.set_num_threads, []

    def recorded(count: int) -> None:
        calls.append((count, threading.get_ident()))
        real(count)

    monkeypatch.setattr(torch, "set_num_threads", recorded)
    embedder = SentenceTransformersEmbedder(minilm_path, torch_threads=1)
    await embedder.start()
    try:
        [vector] = await embedder.embed(["one thread is enough for a short query"])
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-4)
        assert calls and all(count == 1 for count, _ in calls)
        assert all(thread != threading.get_ident() for _, thread in calls)  # the encoding worker, not the loop
    finally:
        await embedder.close()
