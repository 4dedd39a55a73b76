"""Request parsing keeps what it builds from Structs in one order, whatever order the map gives its keys, and refuses
numbers JSON has not."""

from __future__ import annotations

import json
import math

import grpc
import pytest
from google.protobuf import struct_pb2

from llama.common.v1 import messages_pb2, sampling_pb2
from llama.inference.v1 import inference_pb2
from llama_mesh.runtime.errors import InvalidArgument
from services.inference.request_parsing import parse_chat, parse_response_format, sorted_struct_dict


def test_struct_keys_come_out_sorted_at_every_level() -> None:
    value = struct_pb2.Struct()
    value.update(
        {
            "type": "object",
            "properties": {"zeta": {"type": "string"}, "alpha": {"type": "integer"}},
            "required": ["zeta", "alpha"],
        }
    )
    parsed = sorted_struct_dict(value, "json_schema")
    assert list(parsed) == ["properties", "required", "type"]
    assert list(parsed["properties"]) == ["alpha", "zeta"]
    assert parsed["required"] == ["zeta", "alpha"]  # lists keep their order
    assert json.dumps(parsed) == json.dumps(
        sorted_struct_dict(struct_pb2.Struct.FromString(value.SerializeToString()), "json_schema")
    )


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_a_schema_holding_nan_or_infinity_is_invalid_argument_naming_it(number: float) -> None:
    response_format = sampling_pb2.ResponseFormat()
    response_format.json_schema.update({"type": "number", "maximum": number})
    with pytest.raises(InvalidArgument) as caught:
        parse_response_format(response_format, "response_format")
    assert caught.value.field == "response_format.json_schema"
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT

    request = inference_pb2.ChatCompletionRequest(messages=[messages_pb2.Message(role=messages_pb2.ROLE_USER)])
    tool = request.tools.add(name="pick")
    tool.parameters.update({"type": "object", "properties": {"n": {"type": "number", "minimum": number}}})
    with pytest.raises(InvalidArgument) as caught:
        parse_chat(request)
    assert caught.value.field == "tools[0].parameters"
