"""Request messages that come in pairs (the unary and the streaming call, the streaming and the waiting turn) carry the
same fields: same names, numbers, types and labels, so a client switches between them by changing the message name.
And the one StreamError keeps the wire layout the inference API's own copy had."""

from __future__ import annotations

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from llama.agents.v1 import agents_pb2, responses_pb2
from llama.common.v1 import stream_error_pb2
from llama.inference.v1 import inference_pb2

PAIRS = [
    (inference_pb2.ChatCompletionRequest, inference_pb2.StreamChatCompletionRequest),
    (inference_pb2.CompletionRequest, inference_pb2.StreamCompletionRequest),
    (agents_pb2.CreateTurnRequest, agents_pb2.CreateTurnAndWaitRequest),
    (agents_pb2.ResumeTurnRequest, agents_pb2.ResumeTurnAndWaitRequest),
    (responses_pb2.CreateResponseRequest, responses_pb2.StreamResponseRequest),
]


def _fields(descriptor: Descriptor) -> dict[str, tuple[object, ...]]:
    def shape(field: FieldDescriptor) -> tuple[object, ...]:
        named = field.message_type or field.enum_type
        kind = named.full_name if named else ""
        if field.message_type is not None and field.message_type.GetOptions().map_entry:  # named after its message
            kind = f"map:{sorted(_fields(field.message_type).items())}"
        oneof = field.containing_oneof.name if field.containing_oneof else ""
        return field.number, field.type, kind, field.is_repeated, field.has_presence, oneof

    return {field.name: shape(field) for field in descriptor.fields}


@pytest.mark.parametrize("pair", PAIRS, ids=lambda pair: pair[1].DESCRIPTOR.name)
def test_paired_requests_have_the_same_fields(pair: tuple[type, type]) -> None:
    first, second = (message.DESCRIPTOR for message in pair)
    assert _fields(first) == _fields(second)


def test_every_streaming_request_has_its_unary_twin_listed() -> None:
    """A new Stream*Request / *AndWaitRequest must be added to PAIRS (the failure names it)."""
    listed = {pair[1].DESCRIPTOR.full_name for pair in PAIRS}
    for module in (inference_pb2, agents_pb2, responses_pb2):
        for name, descriptor in module.DESCRIPTOR.message_types_by_name.items():
            twin = name.removeprefix("Stream").replace("AndWait", "")
            if twin != name and twin in module.DESCRIPTOR.message_types_by_name and name.endswith("Request"):
                assert descriptor.full_name in listed, f"{name} pairs with {twin}: add it to PAIRS"


def test_stream_errors_share_one_message_with_the_old_wire_layout() -> None:
    """inference.v1 had its own StreamError (code=1 int32, reason=2 string, message=3 string); its fields now use
    llama.common.v1.StreamError, which has exactly that layout, so old and new peers read each other's bytes."""
    common = stream_error_pb2.StreamError.DESCRIPTOR
    assert {f.name: (f.number, f.type) for f in common.fields} == {
        "code": (1, FieldDescriptor.TYPE_INT32),
        "reason": (2, FieldDescriptor.TYPE_STRING),
        "message": (3, FieldDescriptor.TYPE_STRING),
    }
    assert "StreamError" not in inference_pb2.DESCRIPTOR.message_types_by_name
    for message, field in (
        (inference_pb2.StreamChatCompletionResponse, "error"),
        (inference_pb2.StreamCompletionResponse, "error"),
        (inference_pb2.BatchChatCompletionResult, "error"),
    ):
        assert message.DESCRIPTOR.fields_by_name[field].message_type is common
    old_bytes = bytes([0x1A, 0x0A, 0x08, 0x05, 0x12, 0x01, 0x52, 0x1A, 0x03]) + b"msg"  # error{code 5, reason R, msg}
    event = inference_pb2.StreamChatCompletionResponse.FromString(old_bytes)
    assert (event.error.code, event.error.reason, event.error.message) == (5, "R", "msg")
