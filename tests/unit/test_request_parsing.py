"""Request parsing keeps what it builds from Structs in one order, whatever order the map gives its keys, and refuses
numbers JSON has not."""

from __future__ import annotations

import json
import math

import grpc
import pytest
from google.protobuf import struct_pb2

from llama.common.v1 import messages_pb2, sampling_pb2, tools_pb2
from llama.inference.v1 import inference_pb2
from llama_mesh.runtime.errors import InvalidArgument
from services.inference.request_parsing import (
    MAX_SCHEMA_BYTES,
    MAX_TOOLS,
    parse_chat,
    parse_response_format,
    parse_sampling,
    sorted_struct_dict,
)


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


@pytest.mark.parametrize(
    ("params", "field"),
    [
        (sampling_pb2.SamplingParams(strategy={"top_p": {"temperature": math.nan}}), "strategy.top_p.temperature"),
        (
            sampling_pb2.SamplingParams(strategy={"top_k": {"top_k": 5, "temperature": math.inf}}),
            "strategy.top_k.temperature",
        ),
        (sampling_pb2.SamplingParams(repetition_penalty=math.nan), "repetition_penalty"),
        (sampling_pb2.SamplingParams(repetition_penalty=math.inf), "repetition_penalty"),
    ],
    ids=["nan-temperature", "infinite-temperature", "nan-penalty", "infinite-penalty"],
)
def test_sampling_numbers_must_be_finite(params: sampling_pb2.SamplingParams, field: str) -> None:
    # llama.cpp samples with these without complaint, from a distribution that means nothing
    with pytest.raises(InvalidArgument) as caught:
        parse_sampling(params)
    assert caught.value.field == f"sampling_params.{field}"
    assert "finite" in str(caught.value)


def _chat_with_tools(count: int, properties: int = 1) -> inference_pb2.ChatCompletionRequest:
    request = inference_pb2.ChatCompletionRequest(messages=[messages_pb2.Message(role=messages_pb2.ROLE_USER)])
    for index in range(count):
        schema = {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(properties)}}
        request.tools.add(name=f"tool_{index}").parameters.update(schema)
    return request


def test_tools_and_their_schemas_have_a_cap() -> None:
    assert len(parse_chat(_chat_with_tools(MAX_TOOLS)).tools) == MAX_TOOLS
    with pytest.raises(InvalidArgument) as caught:
        parse_chat(_chat_with_tools(MAX_TOOLS + 1))
    assert caught.value.field == "tools"
    assert caught.value.message == f"tools: at most {MAX_TOOLS} tools per request, got {MAX_TOOLS + 1}"

    # checking a schema costs about 0.2 ms per object in it: 50,000 properties (1.6 MB) took 10 s of the event loop
    with pytest.raises(InvalidArgument) as caught:
        parse_chat(_chat_with_tools(1, properties=50_000))
    assert caught.value.field == "tools[0].parameters"
    request = _chat_with_tools(8, properties=1_000)  # 30 KB each, after 92 KB of response_format: the 6th passes
    request.response_format.json_schema.update(
        {"type": "object", "properties": {f"q{i}": {"type": "string"} for i in range(3_000)}}
    )
    with pytest.raises(InvalidArgument) as caught:
        parse_chat(request)
    assert caught.value.field == "tools[5].parameters" and str(MAX_SCHEMA_BYTES) in caught.value.message
    response_format = sampling_pb2.ResponseFormat()
    response_format.json_schema.update({"type": "object", "properties": {f"q{i}": {} for i in range(50_000)}})
    assert response_format.json_schema.ByteSize() > MAX_SCHEMA_BYTES
    with pytest.raises(InvalidArgument) as caught:
        parse_response_format(response_format, "response_format")
    assert caught.value.field == "response_format.json_schema"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_tool_call_arguments_holding_nan_or_infinity_are_refused(constant: str) -> None:
    request = inference_pb2.ChatCompletionRequest(
        messages=[
            messages_pb2.Message(role=messages_pb2.ROLE_USER),
            messages_pb2.Message(
                role=messages_pb2.ROLE_ASSISTANT,
                tool_calls=[tools_pb2.ToolCall(call_id="c1", tool_name="f", arguments=f'{{"n": {constant}}}')],
            ),
        ]
    )
    with pytest.raises(InvalidArgument) as caught:
        parse_chat(request)
    assert caught.value.field == "messages[1].tool_calls[0].arguments"
    assert constant in str(caught.value)
