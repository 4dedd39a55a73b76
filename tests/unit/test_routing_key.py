from __future__ import annotations

import pytest

from gateway.routing_key import MalformedMessage, read_string_field
from llama.common.v1 import messages_pb2, sampling_pb2
from llama.inference.v1 import inference_pb2 as pb


def test_reads_the_routing_field_among_others() -> None:
    request = pb.ChatCompletionRequest(
        model_id="m-1",
        messages=[messages_pb2.Message(role=messages_pb2.ROLE_USER, content={"text": "hé"})],
        sampling_params=sampling_pb2.SamplingParams(max_tokens=7, seed=-3),
    )
    assert read_string_field(request.SerializeToString(), 1) == "m-1"


def test_reads_a_field_that_is_not_first() -> None:
    request = pb.EmbeddingsRequest(model_id="emb", contents=["a", "b"], output_dimension=3)
    data = request.SerializeToString()
    assert read_string_field(data, 1) == "emb"
    assert read_string_field(data, 2) == "b"  # last one wins


def test_absent_field_is_empty() -> None:
    assert read_string_field(pb.ChatCompletionRequest().SerializeToString(), 1) == ""


def test_truncated_bytes_are_refused() -> None:
    data = pb.ChatCompletionRequest(model_id="abcdef").SerializeToString()
    with pytest.raises(MalformedMessage):
        read_string_field(data[:-2], 1)
