"""SentenceTransformersEmbedder against a real model (all-MiniLM-L6-v2, offline)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

pytest.importorskip("sentence_transformers")

from llama_mesh.conversion_cache import ModelConversionError
from llama_mesh.runtime.errors import InvalidArgument
from services.inference.provider import ModelLoadError
from services.inference.providers import onnx_transformer
from services.inference.providers.onnx_sentence_encoder import OnnxSentenceEncoder
from services.inference.providers.onnx_transformer import OnnxTransformer, Quantization
from services.inference.providers.sentence_transformers import SentenceTransformersEmbedder
from tests.inference.model_cache import model_cache_dir

pytestmark = pytest.mark.asyncio


def entries(directory: Path) -> list[Path]:
    return sorted(directory.iterdir())


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
    embedder = SentenceTransformersEmbedder(minilm_path, threads=1)
    await embedder.start()
    try:
        [vector] = await embedder.embed(["one thread is enough for a short query"])
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-4)
        assert calls and all(count == 1 for count, _ in calls)
        assert all(thread != threading.get_ident() for _, thread in calls)  # the encoding worker, not the loop
    finally:
        await embedder.close()


async def test_onnx_backend_encodes_as_torch_does(minilm_path: str, tmp_path: Path) -> None:
    """The exported transformer gives torch's vectors, for one text and for a padded batch of very different lengths
    (cut at the model's limit too)."""
    texts = ["hi", "The cat sits on the mat.", LONG, "Ünïcödé text, with punctuation; and numbers 12345."]
    torch_side = SentenceTransformersEmbedder(minilm_path, threads=1)
    onnx_side = SentenceTransformersEmbedder(
        minilm_path, threads=1, backend="onnx", name="all-MiniLM-L6-v2", cache_dir=str(model_cache_dir())
    )
    await torch_side.start()
    await onnx_side.start()
    try:
        assert isinstance(onnx_side._require_model()[0].auto_model, OnnxTransformer)
        for batch in (texts[:1], texts):
            for a, b in zip(await torch_side.embed(batch), await onnx_side.embed(batch), strict=True):
                assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-4
    finally:
        await torch_side.close()
        await onnx_side.close()


@pytest.mark.parametrize("pooling_mode", ["mean", "cls", "max", "mean_sqrt_len_tokens"])
async def test_the_direct_onnx_path_encodes_as_sentence_transformers_does(minilm_path: str, pooling_mode: str) -> None:
    """The ONNX backend skips sentence-transformers' encode for plain pipelines; the vectors are the same, for each
    pooling it handles, for a short batch and for one sorted into several batches (texts of very different lengths,
    one cut at the model's limit)."""
    texts = ["hi", "The cat sits on the mat.", LONG, "Ünïcödé text, with punctuation; and numbers 12345."]
    many = [f"{text} {number}" * (1 + number % 5) for number, text in enumerate(texts * 20)]
    embedder = SentenceTransformersEmbedder(
        minilm_path, threads=1, backend="onnx", name="all-MiniLM-L6-v2", cache_dir=str(model_cache_dir())
    )
    await embedder.start()
    try:
        model = embedder._require_model()
        model[1].pooling_mode = pooling_mode
        embedder._direct = OnnxSentenceEncoder.for_model(model)  # as loading a model with this pooling would
        assert embedder._direct is not None
        for batch in (texts[:1], texts, many):
            direct = await embedder.embed(batch)
            expected = model.encode(batch, normalize_embeddings=True, convert_to_numpy=True)
            assert len(direct) == len(expected)
            for a, b in zip(direct, expected.tolist(), strict=True):
                assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-5
    finally:
        await embedder.close()


async def test_a_pipeline_the_direct_path_does_not_know_keeps_sentence_transformers_encode(minilm_path: str) -> None:
    from sentence_transformers.base.modules.dense import Dense

    embedder = SentenceTransformersEmbedder(
        minilm_path, threads=1, backend="onnx", name="all-MiniLM-L6-v2", cache_dir=str(model_cache_dir())
    )
    await embedder.start()
    try:
        model = embedder._require_model()
        assert OnnxSentenceEncoder.for_model(model) is not None
        model.truncate_dim = 64
        assert OnnxSentenceEncoder.for_model(model) is None
        model.truncate_dim = None
        model.append(Dense(384, 8))
        assert OnnxSentenceEncoder.for_model(model) is None
    finally:
        await embedder.close()


async def test_onnx_export_is_made_once_and_reused(
    minilm_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = SentenceTransformersEmbedder(minilm_path, backend="onnx", name="a/b c", cache_dir=str(tmp_path))
    await first.start()
    [exported] = entries(tmp_path)
    assert exported.name.startswith("a_b_c.onnx-") and (exported / "model.onnx").is_file()
    await first.close()

    def no_second_export(*args: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_transformer, "_export", no_second_export)
    again = SentenceTransformersEmbedder(minilm_path, backend="onnx", name="a/b c", cache_dir=str(tmp_path))
    await again.start()
    try:
        assert len((await again.embed(["from the cached export"]))[0]) == 384
        assert entries(tmp_path) == [exported]
    finally:
        await again.close()


async def test_a_failed_export_is_a_load_error_and_leaves_nothing(
    minilm_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(transformer: object, output: Path) -> None:
        output.write_bytes(b"half an onnx file")
        raise ModelConversionError("the exporter gave up")

    monkeypatch.setattr(onnx_transformer, "_export", broken)
    embedder = SentenceTransformersEmbedder(minilm_path, backend="onnx", name="m", cache_dir=str(tmp_path))
    with pytest.raises(ModelLoadError, match="the exporter gave up"):
        await embedder.start()
    assert entries(tmp_path) == []


@pytest.mark.parametrize(("quantization", "least_cosine"), [("int8-block", 0.995), ("int8", 0.95)])
async def test_a_quantized_export_keeps_the_meaning(
    minilm_path: str, quantization: Quantization, least_cosine: float
) -> None:
    """Quantizing moves the vectors a little (int8-block less than int8), never the ranking of clear cases."""
    texts = ["How do I reset my password?", "What are the steps to change my login password?", "Two cups of flour."]
    float_side = SentenceTransformersEmbedder(
        minilm_path, backend="onnx", name="all-MiniLM-L6-v2", cache_dir=str(model_cache_dir())
    )
    quantized_side = SentenceTransformersEmbedder(
        minilm_path,
        backend="onnx",
        name="all-MiniLM-L6-v2",
        cache_dir=str(model_cache_dir()),
        quantization=quantization,
    )
    await float_side.start()
    await quantized_side.start()
    try:
        exact, quantized = await float_side.embed(texts), await quantized_side.embed(texts)
        for a, b in zip(exact, quantized, strict=True):
            assert least_cosine < cosine(a, b) < 0.99999  # close, and really quantized
        query, paraphrase, unrelated = quantized
        assert cosine(query, paraphrase) > cosine(query, unrelated) + 0.2
    finally:
        await float_side.close()
        await quantized_side.close()


def test_quantization_needs_the_onnx_backend(minilm_path: str) -> None:
    with pytest.raises(ValueError, match="onnx"):
        SentenceTransformersEmbedder(minilm_path, quantization="int8")
