"""QueryChunksRequest.query_vector: what the service accepts, by search mode, and what it refuses (INVALID_ARGUMENT
naming the field). The mesh test (tests/mesh/test_vector_io_mesh.py) checks the same refusals end to end."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from llama.common.v1 import content_pb2
from llama.vector_io.v1 import vector_io_pb2 as pb
from llama_mesh.runtime.errors import InvalidArgument
from services.vector_io.chunks import MAX_QUERY_VECTOR, query_text, query_vector
from services.vector_io.provider import SearchMode

DIM = 4


def request(text: str = "", vector: list[float] | None = None) -> pb.QueryChunksRequest:
    built = pb.QueryChunksRequest(vector_db_id="docs", query_vector=vector or [])
    if text:
        built.query.CopyFrom(content_pb2.Content(text=text))
    return built


def refused(call: Callable[[], object], field: str) -> str:
    with pytest.raises(InvalidArgument) as caught:
        call()
    assert caught.value.field == field
    return caught.value.message


def test_a_vector_of_the_right_size_is_taken_as_given() -> None:
    assert query_vector(request(vector=[0.5, -1.0, 0.0, 2.0]), DIM) == [0.5, -1.0, 0.0, 2.0]
    assert query_vector(request(text="hello"), DIM) is None


def test_wrong_sizes_non_finite_values_and_zero_vectors_are_refused() -> None:
    message = refused(lambda: query_vector(request(vector=[1.0, 2.0, 3.0]), DIM), "query_vector")
    assert "3 values" in message and "4-d" in message and "'docs'" in message
    refused(lambda: query_vector(request(vector=[1.0] * 5), DIM), "query_vector")
    message = refused(lambda: query_vector(request(vector=[1.0] * (MAX_QUERY_VECTOR + 1)), DIM), "query_vector")
    assert f"at most {MAX_QUERY_VECTOR}" in message
    for bad in (math.nan, math.inf, -math.inf):
        refused(lambda bad=bad: query_vector(request(vector=[1.0, 0.0, bad, 0.0]), DIM), "query_vector[2]")
    assert "zeros" in refused(lambda: query_vector(request(vector=[0.0] * DIM), DIM), "query_vector")


def test_which_of_text_and_vector_each_mode_takes() -> None:
    both, vector_only, text_only = request("paris", [1.0] * DIM), request(vector=[1.0] * DIM), request("paris")
    # vector search: exactly one of the two
    assert query_text(vector_only, SearchMode.VECTOR, has_vector=True) == ""
    assert query_text(text_only, SearchMode.VECTOR, has_vector=False) == "paris"
    assert "not both" in refused(lambda: query_text(both, SearchMode.VECTOR, has_vector=True), "query_vector")
    assert refused(lambda: query_text(request(), SearchMode.VECTOR, has_vector=False), "query").endswith("is required")
    # keyword search: text only
    assert "text only" in refused(lambda: query_text(both, SearchMode.KEYWORD, has_vector=True), "query_vector")
    # hybrid: the text is required (keyword side); the vector, if any, replaces its embedding
    assert query_text(both, SearchMode.HYBRID, has_vector=True) == "paris"
    assert "keyword side" in refused(lambda: query_text(vector_only, SearchMode.HYBRID, has_vector=True), "query")
