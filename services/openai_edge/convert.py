"""OpenAI request parameters as the mesh's protos and back: sampling, tools, structured output, logprobs, usage and
stream errors. Shared by chat and completions (and by later OpenAI APIs on the edge)."""

from __future__ import annotations

from typing import Any, TypeVar

import grpc
from google.protobuf import struct_pb2
from google.protobuf.message import Message

from llama.common.v1 import messages_pb2, sampling_pb2, stream_error_pb2, tools_pb2
from services.openai_edge.errors import OpenAIError, bad_request, from_status

_STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}

# The range of the protos' integer fields (int32: max_tokens, output_dimension, max_output_tokens; int64: seed): a
# parameter beyond it is a 400 naming it, not a failure to build the request.
INT32_MAX = 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# The gRPC fields each OpenAI sampling parameter becomes (for naming the parameter of an error).
SAMPLING_FIELDS = {
    "sampling_params.max_tokens": "max_tokens",
    "sampling_params.stop": "stop",
    "sampling_params.seed": "seed",
    "sampling_params.strategy.top_p.temperature": "temperature",
    "sampling_params.strategy.top_p.top_p": "top_p",
    "sampling_params": "temperature",
    "logprobs.top_k": "top_logprobs",
    "logprobs": "logprobs",
    "response_format.json_schema": "response_format.json_schema.schema",
    "response_format": "response_format",
}


StreamRequest = TypeVar("StreamRequest", bound=Message)


def as_stream_request(request: Message, kind: type[StreamRequest]) -> StreamRequest:
    """The streaming twin of a unary request (the inference API gives them the same fields)."""
    streamed = kind()
    streamed.ParseFromString(request.SerializeToString())
    return streamed


def struct(value: dict[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(value)
    return result


def sampling(
    temperature: float | None,
    top_p: float | None,
    max_tokens: int | None,
    stop: str | list[str] | None,
    seed: int | None,
) -> sampling_pb2.SamplingParams:
    """OpenAI's defaults (temperature 1, top_p 1); temperature 0 is greedy decoding."""
    params = sampling_pb2.SamplingParams(stop=[stop] if isinstance(stop, str) else list(stop or []))
    temperature = 1.0 if temperature is None else temperature
    if temperature == 0:
        params.strategy.greedy.SetInParent()
    else:
        params.strategy.top_p.temperature = temperature
        params.strategy.top_p.top_p = 1.0 if top_p is None else top_p
    if max_tokens is not None:
        params.max_tokens = max_tokens
    if seed is not None:
        params.seed = seed
    return params


def logprobs_config(logprobs: bool | None, top_logprobs: int | None) -> sampling_pb2.LogprobsConfig | None:
    if top_logprobs is not None and not logprobs:
        raise bad_request("top_logprobs", "needs logprobs: true")
    return sampling_pb2.LogprobsConfig(top_k=top_logprobs or 0) if logprobs else None


def token_bytes(token: str) -> list[int]:
    return list(token.encode("utf-8"))


def chat_logprobs(items: list[sampling_pb2.TokenLogprob]) -> list[dict[str, Any]]:
    """OpenAI's `logprobs.content` entries."""
    return [
        {
            "token": item.token,
            "logprob": item.logprob,
            "bytes": token_bytes(item.token),
            "top_logprobs": [
                {"token": top.token, "logprob": top.logprob, "bytes": token_bytes(top.token)}
                for top in item.top_logprobs
            ],
        }
        for item in items
    ]


def tool_definitions(tools: list[dict[str, Any]]) -> list[tools_pb2.ToolDefinition]:
    """`[{"type": "function", "function": {"name", "description", "parameters"}}]` as the mesh's tool definitions."""
    return [
        tools_pb2.ToolDefinition(
            name=tool["name"],
            description=tool.get("description") or "",
            parameters=struct(tool.get("parameters") or {"type": "object", "properties": {}}),
        )
        for tool in tools
    ]


def tool_choice(choice: str | dict[str, Any] | None) -> tools_pb2.ToolChoice | None:
    """ "none" / "auto" / "required", or a named function."""
    if choice is None:
        return None
    if isinstance(choice, dict):
        return tools_pb2.ToolChoice(tool_name=choice["name"])
    modes = {
        "none": tools_pb2.TOOL_CHOICE_MODE_NONE,
        "auto": tools_pb2.TOOL_CHOICE_MODE_AUTO,
        "required": tools_pb2.TOOL_CHOICE_MODE_REQUIRED,
    }
    return tools_pb2.ToolChoice(mode=modes[choice])


def response_format(kind: str | None, schema: dict[str, Any] | None) -> sampling_pb2.ResponseFormat | None:
    """json_object: any JSON object; json_schema: a value valid against the schema; text (or none): free text."""
    if kind == "json_object":
        return sampling_pb2.ResponseFormat(json_schema=struct({"type": "object"}))
    if kind == "json_schema":
        return sampling_pb2.ResponseFormat(json_schema=struct(schema or {}))
    return None


def finish_reason(stop_reason: int, has_tool_calls: bool = False) -> str:
    if has_tool_calls:
        return "tool_calls"
    return "length" if stop_reason == messages_pb2.STOP_REASON_OUT_OF_TOKENS else "stop"


def usage(value: sampling_pb2.Usage) -> dict[str, int]:
    return {
        "prompt_tokens": value.prompt_tokens,
        "completion_tokens": value.completion_tokens,
        "total_tokens": value.total_tokens,
    }


def stream_error(error: stream_error_pb2.StreamError) -> OpenAIError:
    """An error the engine sent inside a stream, as OpenAI's error (sent to the client as an SSE error event)."""
    return from_status(_STATUS_BY_NUMBER.get(error.code, grpc.StatusCode.INTERNAL), error.message, error.reason)
