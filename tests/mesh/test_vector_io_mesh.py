"""The vector_io service in the default distribution: Qdrant in embedded local mode, embeddings from the inference
service through the gateway (all-MiniLM-L6-v2)."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import struct_pb2

from llama.common.v1 import content_pb2, resources_pb2, retrieval_pb2
from llama.inference.v1 import inference_pb2, inference_pb2_grpc
from llama.registry.v1 import registry_pb2, registry_pb2_grpc
from llama.vector_io.v1 import vector_io_pb2 as pb
from llama.vector_io.v1 import vector_io_pb2_grpc
from llama_mesh.launcher import LocalMesh, isolated_env
from tests.mesh.helpers import EMBEDDING_MODEL, expect_error, reason_and_field

DOCUMENTS = {
    "paris": ("Paris is the capital of France and home of the Eiffel Tower.", "geo"),
    "python": ("Python is a programming language with dynamic typing and garbage collection.", "code"),
    "ocean": ("The Pacific Ocean is the largest and deepest ocean on Earth.", "geo"),
    "baking": ("To bake sourdough bread, feed the starter and let the dough rise overnight.", "food"),
}


def struct(**values: object) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(values)
    return result


def text(value: str) -> content_pb2.Content:
    return content_pb2.Content(text=value)


def chunk(chunk_id: str, content: str, topic: str) -> pb.Chunk:
    return pb.Chunk(chunk_id=chunk_id, content=text(content), metadata=struct(document_id=chunk_id, topic=topic))


def register(registry: registry_pb2_grpc.RegistryServiceStub, identifier: str) -> resources_pb2.VectorDB:
    return registry.RegisterVectorDB(
        registry_pb2.RegisterVectorDBRequest(
            vector_db=resources_pb2.VectorDB(identifier=identifier, embedding_model=EMBEDDING_MODEL)
        )
    )


def query(
    vector_io: vector_io_pb2_grpc.VectorIOServiceStub, vector_db_id: str, question: str, **params: object
) -> pb.QueryChunksResponse:
    return vector_io.QueryChunks(
        pb.QueryChunksRequest(vector_db_id=vector_db_id, query=text(question), params=pb.QueryParams(**params))
    )


@pytest.fixture(scope="module")
def vector_io(gateway: grpc.Channel) -> vector_io_pb2_grpc.VectorIOServiceStub:
    return vector_io_pb2_grpc.VectorIOServiceStub(gateway)


@pytest.fixture(scope="module")
def knowledge(registry, vector_io) -> Iterator[str]:
    vector_db = register(registry, "knowledge")
    assert vector_db.embedding_dimension == 384 and vector_db.provider_id == "qdrant"
    reply = vector_io.InsertChunks(
        pb.InsertChunksRequest(
            vector_db_id="knowledge",
            chunks=[chunk(key, content, topic) for key, (content, topic) in DOCUMENTS.items()],
        )
    )
    assert list(reply.chunk_ids) == list(DOCUMENTS)
    yield "knowledge"
    registry.UnregisterVectorDB(registry_pb2.UnregisterVectorDBRequest(vector_db_id="knowledge"))


def test_vector_query_finds_the_relevant_chunk_first(vector_io, knowledge) -> None:
    reply = query(vector_io, knowledge, "Which city is the capital of France?", max_chunks=3)
    assert [c.chunk_id for c in reply.chunks][0] == "paris"
    assert len(reply.chunks) == len(reply.scores) == 3
    assert list(reply.scores) == sorted(reply.scores, reverse=True)
    first = reply.chunks[0]
    assert first.content.text == DOCUMENTS["paris"][0]
    assert first.metadata["topic"] == "geo" and not first.embedding


def test_score_threshold_and_metadata_filter(vector_io, knowledge) -> None:
    reply = query(vector_io, knowledge, "capital of France", metadata_filter=struct(topic="code"))
    assert [c.chunk_id for c in reply.chunks] == ["python"]
    reply = query(vector_io, knowledge, "capital of France", score_threshold=0.5)
    assert [c.chunk_id for c in reply.chunks] == ["paris"]


def test_keyword_and_hybrid_modes(vector_io, knowledge) -> None:
    keyword = query(vector_io, knowledge, "sourdough starter", mode=retrieval_pb2.SEARCH_MODE_KEYWORD)
    assert [c.chunk_id for c in keyword.chunks] == ["baking"]  # only chunks holding a query term score
    assert keyword.scores[0] > 0
    hybrid = query(vector_io, knowledge, "largest ocean on Earth", mode=retrieval_pb2.SEARCH_MODE_HYBRID)
    assert hybrid.chunks[0].chunk_id == "ocean"
    filtered = query(
        vector_io,
        knowledge,
        "largest ocean on Earth",
        mode=retrieval_pb2.SEARCH_MODE_HYBRID,
        metadata_filter=struct(topic="food"),
    )
    assert {c.chunk_id for c in filtered.chunks} == {"baking"}


def query_embedding(gateway: grpc.Channel, question: str) -> list[float]:
    """The question embedded as vector_io embeds a text query: the vector DB's model, task QUERY, via the gateway."""
    reply = inference_pb2_grpc.InferenceServiceStub(gateway).Embeddings(
        inference_pb2.EmbeddingsRequest(
            model_id=EMBEDDING_MODEL, contents=[question], task_type=inference_pb2.EMBEDDING_TASK_TYPE_QUERY
        )
    )
    return list(reply.embeddings[0].values)


def by_vector(
    vector_io: vector_io_pb2_grpc.VectorIOServiceStub, vector: list[float], question: str = "", **params: object
) -> pb.QueryChunksResponse:
    request = pb.QueryChunksRequest(vector_db_id="knowledge", query_vector=vector, params=pb.QueryParams(**params))
    if question:
        request.query.CopyFrom(text(question))
    return vector_io.QueryChunks(request)


def test_a_query_vector_finds_what_its_text_finds(gateway, vector_io, knowledge) -> None:
    for question in ("Which city is the capital of France?", "How do I bake bread?"):
        vector = query_embedding(gateway, question)
        by_text, by_embedding = query(vector_io, knowledge, question), by_vector(vector_io, vector)
        assert [c.chunk_id for c in by_embedding.chunks] == [c.chunk_id for c in by_text.chunks]
        assert list(by_embedding.scores) == pytest.approx(list(by_text.scores), abs=1e-5)
        assert by_embedding.chunks[0].content.text == by_text.chunks[0].content.text
    # Hybrid: the vector stands for the text's embedding on the vector side; the text still drives the keyword side.
    hybrid = retrieval_pb2.SEARCH_MODE_HYBRID
    question = "largest ocean on Earth"
    by_text = query(vector_io, knowledge, question, mode=hybrid)
    both = by_vector(vector_io, query_embedding(gateway, question), question, mode=hybrid)
    assert [c.chunk_id for c in both.chunks] == [c.chunk_id for c in by_text.chunks]
    # Filters and thresholds apply as to a text query.
    filtered = by_vector(vector_io, query_embedding(gateway, "capital of France"), metadata_filter=struct(topic="code"))
    assert [c.chunk_id for c in filtered.chunks] == ["python"]


def test_bad_query_vectors_are_invalid_arguments(gateway, vector_io, knowledge) -> None:
    good = query_embedding(gateway, "capital of France")
    cases = [
        (good[:100], {}, "", "query_vector"),  # 100 values in a 384-d vector DB
        (good + [0.5], {}, "", "query_vector"),
        ([float("nan")] + good[1:], {}, "", "query_vector[0]"),
        (good[:383] + [float("inf")], {}, "", "query_vector[383]"),
        ([0.1] * 65_537, {}, "", "query_vector"),  # above the cap
        ([0.0] * 384, {}, "", "query_vector"),
        (good, {}, "capital of France", "query_vector"),  # vector search: text or vector, not both
        (good, {"mode": retrieval_pb2.SEARCH_MODE_KEYWORD}, "France", "query_vector"),
        (good, {"mode": retrieval_pb2.SEARCH_MODE_HYBRID}, "", "query"),  # hybrid needs its keyword text
    ]
    for vector, params, question, field in cases:
        call = functools.partial(by_vector, vector_io, vector, question, **params)
        error = expect_error(call, grpc.StatusCode.INVALID_ARGUMENT)
        assert reason_and_field(error) == ("INVALID_ARGUMENT", field), (len(vector), params, question)
    error = expect_error(lambda: by_vector(vector_io, good[:100]), grpc.StatusCode.INVALID_ARGUMENT)
    assert "100 values" in error.details() and "384-d" in error.details()


def test_chunk_ids_are_assigned_and_stable(registry, vector_io) -> None:
    register(registry, "assigned")
    try:
        request = pb.InsertChunksRequest(
            vector_db_id="assigned",
            chunks=[pb.Chunk(content=text("A chunk with no id."), metadata=struct(document_id="doc-1"))],
        )
        first = vector_io.InsertChunks(request).chunk_ids[0]
        assert first and vector_io.InsertChunks(request).chunk_ids[0] == first
        reply = query(vector_io, "assigned", "chunk", max_chunks=10)
        assert [c.chunk_id for c in reply.chunks] == [first]  # the second insert replaced the first
    finally:
        registry.UnregisterVectorDB(registry_pb2.UnregisterVectorDBRequest(vector_db_id="assigned"))


def test_bad_requests_are_refused_and_leave_chunks_intact(vector_io, knowledge) -> None:
    wrong = pb.InsertChunksRequest(
        vector_db_id=knowledge,
        chunks=[
            chunk("extra", "An extra chunk that must not be stored.", "geo"),
            pb.Chunk(chunk_id="short", content=text("x"), embedding=[0.1, 0.2, 0.3]),
        ],
    )
    error = expect_error(lambda: vector_io.InsertChunks(wrong), grpc.StatusCode.INVALID_ARGUMENT)
    assert reason_and_field(error) == ("INVALID_ARGUMENT", "chunks[1].embedding")
    error = expect_error(lambda: query(vector_io, knowledge, "  "), grpc.StatusCode.INVALID_ARGUMENT)
    assert reason_and_field(error) == ("INVALID_ARGUMENT", "query")
    error = expect_error(lambda: query(vector_io, "no-such-db", "anything"), grpc.StatusCode.NOT_FOUND)
    assert reason_and_field(error)[0] == "RESOURCE_NOT_FOUND"
    reply = query(vector_io, knowledge, "anything at all", max_chunks=100)
    assert sorted(c.chunk_id for c in reply.chunks) == sorted(DOCUMENTS)


def test_numbers_json_cannot_hold_are_refused_and_store_nothing(vector_io, knowledge) -> None:
    """NaN or an infinity in a chunk's metadata (once INTERNAL) or its embedding (once stored, and never found)."""
    extra = chunk("extra", "An extra chunk that must not be stored.", "geo")
    for number in (math.nan, -math.inf):
        not_json = chunk("not-json", "A chunk with a metadata number JSON has no way to write.", "geo")
        not_json.metadata.fields["score"].number_value = number
        request = pb.InsertChunksRequest(vector_db_id=knowledge, chunks=[extra, not_json])
        error = expect_error(lambda r=request: vector_io.InsertChunks(r), grpc.StatusCode.INVALID_ARGUMENT)
        assert reason_and_field(error) == ("NON_FINITE_NUMBER", "chunks[1].metadata")
        unfound = pb.Chunk(chunk_id="unfound", content=text("A vector with no direction."), embedding=[number] * 384)
        request = pb.InsertChunksRequest(vector_db_id=knowledge, chunks=[extra, unfound])
        error = expect_error(lambda r=request: vector_io.InsertChunks(r), grpc.StatusCode.INVALID_ARGUMENT)
        assert reason_and_field(error) == ("INVALID_ARGUMENT", "chunks[1].embedding[0]")
    reply = query(vector_io, knowledge, "anything at all", max_chunks=100)
    assert sorted(c.chunk_id for c in reply.chunks) == sorted(DOCUMENTS)
    assert not query(vector_io, knowledge, "extra direction JSON", mode=retrieval_pb2.SEARCH_MODE_KEYWORD).chunks


def test_delete_by_id_and_by_filter(registry, vector_io) -> None:
    register(registry, "deletions")
    try:
        vector_io.InsertChunks(
            pb.InsertChunksRequest(
                vector_db_id="deletions",
                chunks=[chunk(key, content, topic) for key, (content, topic) in DOCUMENTS.items()],
            )
        )
        reply = vector_io.DeleteChunks(pb.DeleteChunksRequest(vector_db_id="deletions", chunk_ids=["paris", "nope"]))
        assert reply.deleted_count == 1
        reply = vector_io.DeleteChunks(
            pb.DeleteChunksRequest(vector_db_id="deletions", metadata_filter=struct(topic="geo"))
        )
        assert reply.deleted_count == 1  # ocean
        error = expect_error(
            lambda: vector_io.DeleteChunks(pb.DeleteChunksRequest(vector_db_id="deletions")),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert reason_and_field(error)[1] == "chunk_ids"
        left = query(vector_io, "deletions", "capital of France", max_chunks=10)
        assert sorted(c.chunk_id for c in left.chunks) == ["baking", "python"]
    finally:
        registry.UnregisterVectorDB(registry_pb2.UnregisterVectorDBRequest(vector_db_id="deletions"))


def test_deletes_and_filters_past_their_caps_are_refused_and_delete_nothing(vector_io, knowledge) -> None:
    """Ids per DeleteChunks and metadata_filter keys have caps: one call once held the service for seconds (every
    collection's calls waited), 1.7 million ids or a million filter keys in the 16 MiB the gateway routes."""
    ids = [f"id-{n}" for n in range(10_001)]
    error = expect_error(
        lambda: vector_io.DeleteChunks(pb.DeleteChunksRequest(vector_db_id=knowledge, chunk_ids=["paris", *ids])),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert reason_and_field(error) == ("INVALID_ARGUMENT", "chunk_ids")
    many = struct(topic="geo", **{f"key{n}": True for n in range(64)})
    error = expect_error(
        lambda: vector_io.DeleteChunks(pb.DeleteChunksRequest(vector_db_id=knowledge, metadata_filter=many)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert reason_and_field(error) == ("INVALID_ARGUMENT", "metadata_filter")
    error = expect_error(
        lambda: query(vector_io, knowledge, "ocean", metadata_filter=many), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert reason_and_field(error) == ("INVALID_ARGUMENT", "params.metadata_filter")
    assert (
        vector_io.DeleteChunks(pb.DeleteChunksRequest(vector_db_id=knowledge, chunk_ids=ids[:10_000])).deleted_count
        == 0
    )
    reply = query(vector_io, knowledge, "anything at all", max_chunks=100)
    assert sorted(c.chunk_id for c in reply.chunks) == sorted(DOCUMENTS)


def test_unregister_drops_the_collection(registry, vector_io) -> None:
    register(registry, "dropped")
    vector_io.InsertChunks(
        pb.InsertChunksRequest(vector_db_id="dropped", chunks=[chunk("paris", DOCUMENTS["paris"][0], "geo")])
    )
    registry.UnregisterVectorDB(registry_pb2.UnregisterVectorDBRequest(vector_db_id="dropped"))
    expect_error(lambda: query(vector_io, "dropped", "France"), grpc.StatusCode.NOT_FOUND)
    register(registry, "dropped")
    try:
        assert not query(vector_io, "dropped", "France").chunks
    finally:
        registry.UnregisterVectorDB(registry_pb2.UnregisterVectorDBRequest(vector_db_id="dropped"))


def test_chunks_survive_a_restart(tmp_path: Path) -> None:
    # Only the services this needs; no telemetry service to export spans to.
    env = {**isolated_env(tmp_path / "data"), "LLAMA_MESH_TRACE_EXPORTER": "none"}
    only = {"gateway", "inference", "vector_io"}
    mesh = LocalMesh("local-cpu", env=env, log_dir=tmp_path / "logs")
    mesh.start(only=only)
    try:
        with grpc.insecure_channel(mesh.gateway_address) as channel:
            register(registry_pb2_grpc.RegistryServiceStub(channel), "durable")
            vector_io_pb2_grpc.VectorIOServiceStub(channel).InsertChunks(
                pb.InsertChunksRequest(vector_db_id="durable", chunks=[chunk("paris", DOCUMENTS["paris"][0], "geo")])
            )
    finally:
        mesh.stop()
    mesh = LocalMesh("local-cpu", env=env, log_dir=tmp_path / "logs-again")
    mesh.start(only=only)
    try:
        with grpc.insecure_channel(mesh.gateway_address) as channel:
            reply = query(vector_io_pb2_grpc.VectorIOServiceStub(channel), "durable", "capital of France")
            assert [c.chunk_id for c in reply.chunks] == ["paris"]
    finally:
        mesh.stop()
