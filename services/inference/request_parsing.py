"""Validate inference requests and turn them into plain objects; every problem names the field at fault."""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Literal

from google.protobuf import struct_pb2
from jsonschema import SchemaError
from jsonschema.validators import validator_for

from llama.common.v1 import content_pb2, messages_pb2, sampling_pb2, tools_pb2
from llama_mesh.runtime.errors import InvalidArgument
from llama_mesh.runtime.struct_values import NonFiniteNumber, refuse_constant, struct_dict
from services.inference.grammar_limits import grammar_problem
from services.inference.provider import OutputConstraint, SamplingParams

MAX_STOP_SEQUENCES = 16
MAX_LOGPROBS = 20
MAX_TOOLS = 128
MAX_MESSAGES = 4096  # of one chat (or of each conversation of a batch)
MAX_CONTENT_ITEMS = 1024  # of one message's content
# The JSON schemas of one request together (every tool's parameters and response_format.json_schema), encoded:
# checking a schema against its meta-schema costs about 0.2 ms per object in it.
MAX_SCHEMA_BYTES = 256 * 1024
_TOOL_NAME = re.compile(r"[A-Za-z0-9_\-.]{1,64}")
_ROLES = {
    messages_pb2.ROLE_SYSTEM: "system",
    messages_pb2.ROLE_USER: "user",
    messages_pb2.ROLE_ASSISTANT: "assistant",
    messages_pb2.ROLE_TOOL: "tool",
}

ToolChoice = Literal["auto", "required", "none"] | str


@dataclass
class ChatInput:
    messages: list[dict[str, Any]]
    sampling: SamplingParams
    tools: list[dict[str, Any]] = field(default_factory=list)  # {"name", "description", "parameters"}
    tool_choice: ToolChoice = "auto"  # or the name of the tool that must be called
    constraint: OutputConstraint | None = None
    logprobs: int = 0


@dataclass
class ChatOptions:
    """What a chat request sets besides its messages (shared by every conversation of a batch)."""

    sampling: SamplingParams
    tools: list[dict[str, Any]]
    tool_choice: ToolChoice
    constraint: OutputConstraint | None
    logprobs: int


@dataclass
class CompletionInput:
    prompt: str
    sampling: SamplingParams
    constraint: OutputConstraint | None = None
    logprobs: int = 0


def content_text(content: content_pb2.Content, field_name: str) -> str:
    """Text of a message content; images are refused since the engines served here take text only."""
    kind = content.WhichOneof("value")
    if kind is None:
        return ""
    if kind == "text":
        return content.text
    if len(content.items.items) > MAX_CONTENT_ITEMS:
        raise InvalidArgument(
            f"{field_name}.items", f"at most {MAX_CONTENT_ITEMS} items per content, got {len(content.items.items)}"
        )
    parts: list[str] = []
    for index, item in enumerate(content.items.items):
        if item.WhichOneof("item") == "image":
            raise InvalidArgument(f"{field_name}.items[{index}]", "images are not supported by this text-only model")
        parts.append(item.text)
    return "".join(parts)


def parse_sampling(params: sampling_pb2.SamplingParams, field_name: str = "sampling_params") -> SamplingParams:
    strategy = params.strategy.WhichOneof("strategy")
    values: dict[str, Any] = {}
    if strategy == "top_p":
        top_p = params.strategy.top_p
        temperature = top_p.temperature if top_p.HasField("temperature") else 1.0
        probability = top_p.top_p if top_p.HasField("top_p") else 0.95
        if not 0 < temperature < math.inf:  # NaN too
            raise InvalidArgument(
                f"{field_name}.strategy.top_p.temperature", f"must be a finite number > 0, got {temperature}"
            )
        if not 0 < probability <= 1:
            raise InvalidArgument(f"{field_name}.strategy.top_p.top_p", f"must be in (0, 1], got {probability}")
        values.update(strategy="top_p", temperature=temperature, top_p=probability)
    elif strategy == "top_k":
        top_k = params.strategy.top_k
        if top_k.top_k < 1:
            raise InvalidArgument(f"{field_name}.strategy.top_k.top_k", f"must be >= 1, got {top_k.top_k}")
        temperature = top_k.temperature if top_k.HasField("temperature") else 1.0
        if not 0 < temperature < math.inf:  # NaN too
            raise InvalidArgument(
                f"{field_name}.strategy.top_k.temperature", f"must be a finite number > 0, got {temperature}"
            )
        values.update(strategy="top_k", top_k=top_k.top_k, temperature=temperature)
    if params.HasField("max_tokens"):
        if params.max_tokens < 0:
            raise InvalidArgument(f"{field_name}.max_tokens", f"must be >= 0 (0: no limit), got {params.max_tokens}")
        values["max_tokens"] = params.max_tokens
    if params.HasField("repetition_penalty"):
        if not 0 < params.repetition_penalty < math.inf:  # NaN too
            raise InvalidArgument(
                f"{field_name}.repetition_penalty",
                f"must be a finite number > 0 (1: none), got {params.repetition_penalty}",
            )
        values["repetition_penalty"] = params.repetition_penalty
    if len(params.stop) > MAX_STOP_SEQUENCES:
        raise InvalidArgument(
            f"{field_name}.stop", f"at most {MAX_STOP_SEQUENCES} stop strings, got {len(params.stop)}"
        )
    for index, stop in enumerate(params.stop):
        if not stop:
            raise InvalidArgument(f"{field_name}.stop[{index}]", "must not be empty")
    values["stop"] = tuple(params.stop)
    if params.HasField("seed"):
        values["seed"] = params.seed
    return SamplingParams(**values)


def sorted_struct_dict(value: struct_pb2.Struct, field_name: str) -> dict[str, Any]:
    """A Struct as a dict with its keys sorted at every level. A Struct is a map whose iteration order changes from
    one process to the next; the prompts and grammars built from it must not, or greedy output would too.
    INVALID_ARGUMENT naming `field_name` when it holds NaN or Infinity."""

    def ordered(item: Any) -> Any:
        if isinstance(item, dict):
            return {key: ordered(item[key]) for key in sorted(item)}
        if isinstance(item, list):
            return [ordered(element) for element in item]
        return item

    return ordered(struct_dict(value, field_name))


def parse_response_format(response_format: sampling_pb2.ResponseFormat, field_name: str) -> OutputConstraint | None:
    kind = response_format.WhichOneof("format")
    if kind is None:
        return None
    if kind == "grammar":
        if not response_format.grammar.strip():
            raise InvalidArgument(f"{field_name}.grammar", "must not be empty")
        problem = grammar_problem(response_format.grammar)
        if problem is not None:
            raise InvalidArgument(f"{field_name}.grammar", problem)
        return OutputConstraint(grammar=response_format.grammar)
    size = response_format.json_schema.ByteSize()
    if size > MAX_SCHEMA_BYTES:
        raise InvalidArgument(
            f"{field_name}.json_schema", f"is {size} bytes encoded; a request's schemas may hold {MAX_SCHEMA_BYTES}"
        )
    schema = sorted_struct_dict(response_format.json_schema, f"{field_name}.json_schema")
    if not schema:
        raise InvalidArgument(f"{field_name}.json_schema", "must not be empty")
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        raise InvalidArgument(f"{field_name}.json_schema", f"is not a valid JSON Schema: {exc.message}") from exc
    return OutputConstraint(json_schema=schema)


def parse_logprobs(config: sampling_pb2.LogprobsConfig, present: bool, field_name: str = "logprobs") -> int:
    if not present:
        return 0
    if not 0 <= config.top_k <= MAX_LOGPROBS:
        raise InvalidArgument(f"{field_name}.top_k", f"must be in 0..{MAX_LOGPROBS}, got {config.top_k}")
    return max(config.top_k, 1)


def _parse_tools(tools: list[tools_pb2.ToolDefinition], schema_bytes: int) -> list[dict[str, Any]]:
    """The tools; `schema_bytes`: what the request's other schemas (response_format) already take of
    MAX_SCHEMA_BYTES."""
    if len(tools) > MAX_TOOLS:
        raise InvalidArgument("tools", f"at most {MAX_TOOLS} tools per request, got {len(tools)}")
    parsed: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, tool in enumerate(tools):
        schema_bytes += tool.parameters.ByteSize()
        if schema_bytes > MAX_SCHEMA_BYTES:
            raise InvalidArgument(
                f"tools[{index}].parameters",
                f"the request's schemas (tools' parameters and response_format.json_schema) pass {MAX_SCHEMA_BYTES} "
                "bytes encoded here; send fewer or smaller tools",
            )
        if not _TOOL_NAME.fullmatch(tool.name):
            raise InvalidArgument(f"tools[{index}].name", f"{tool.name!r} must be 1-64 letters, digits, _ - or .")
        if tool.name in seen:
            raise InvalidArgument(f"tools[{index}].name", f"{tool.name!r} is defined twice")
        seen.add(tool.name)
        parameters = (
            sorted_struct_dict(tool.parameters, f"tools[{index}].parameters") if tool.HasField("parameters") else {}
        )
        if not parameters:
            parameters = {"type": "object", "properties": {}}
        try:
            validator_for(parameters).check_schema(parameters)
        except SchemaError as exc:
            raise InvalidArgument(f"tools[{index}].parameters", f"is not a valid JSON Schema: {exc.message}") from exc
        parsed.append({"name": tool.name, "description": tool.description, "parameters": parameters})
    return parsed


def _parse_tool_choice(choice: tools_pb2.ToolChoice, tools: list[dict[str, Any]]) -> ToolChoice:
    kind = choice.WhichOneof("choice")
    if kind == "tool_name":
        names = [tool["name"] for tool in tools]
        if choice.tool_name not in names:
            raise InvalidArgument(
                "tool_choice.tool_name",
                f"{choice.tool_name!r} is not one of the request's tools ({', '.join(names) or 'none'})",
            )
        return choice.tool_name
    mode = (
        {
            tools_pb2.TOOL_CHOICE_MODE_REQUIRED: "required",
            tools_pb2.TOOL_CHOICE_MODE_NONE: "none",
        }.get(choice.mode, "auto")
        if kind == "mode"
        else "auto"
    )
    if mode == "required" and not tools:
        raise InvalidArgument("tool_choice", "is 'required' but the request has no tools")
    return mode


def _parse_messages(messages: list[messages_pb2.Message]) -> list[dict[str, Any]]:
    if not messages:
        raise InvalidArgument("messages", "at least one message is required")
    if len(messages) > MAX_MESSAGES:
        raise InvalidArgument("messages", f"at most {MAX_MESSAGES} messages per chat, got {len(messages)}")
    parsed: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        role = _ROLES.get(message.role)
        if role is None:
            raise InvalidArgument(
                f"messages[{index}].role",
                f"unknown role {message.role}; use ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT or ROLE_TOOL",
            )
        item: dict[str, Any] = {"role": role, "content": content_text(message.content, f"messages[{index}].content")}
        if message.tool_calls:
            if role != "assistant":
                raise InvalidArgument(f"messages[{index}].tool_calls", "only assistant messages carry tool calls")
            calls = []
            for call_index, call in enumerate(message.tool_calls):
                try:
                    arguments = json.loads(call.arguments or "{}", parse_constant=refuse_constant)
                except NonFiniteNumber as exc:
                    raise InvalidArgument(
                        f"messages[{index}].tool_calls[{call_index}].arguments",
                        f"holds {exc.constant}, which JSON has not; send finite numbers (or null)",
                        reason="NON_FINITE_NUMBER",
                    ) from exc
                except json.JSONDecodeError as exc:
                    raise InvalidArgument(
                        f"messages[{index}].tool_calls[{call_index}].arguments", f"is not JSON: {exc.msg}"
                    ) from exc
                except RecursionError as exc:  # Python's JSON reader recurses once per level
                    raise InvalidArgument(
                        f"messages[{index}].tool_calls[{call_index}].arguments",
                        "is JSON nested too deeply to read (a few hundred levels at most)",
                    ) from exc
                except ValueError as exc:  # Python reads integers of at most sys.get_int_max_str_digits() digits
                    raise InvalidArgument(
                        f"messages[{index}].tool_calls[{call_index}].arguments",
                        f"holds an integer of more than {sys.get_int_max_str_digits()} digits, which is not read",
                    ) from exc
                calls.append(
                    {
                        "id": call.call_id,
                        "type": "function",
                        "function": {"name": call.tool_name, "arguments": arguments},
                    }
                )
            item["tool_calls"] = calls
        if role == "tool":
            if not message.call_id:
                raise InvalidArgument(f"messages[{index}].call_id", "is required for tool messages")
            item["tool_call_id"] = message.call_id
            if message.tool_name:
                item["name"] = message.tool_name
        parsed.append(item)
    return parsed


def parse_chat_options(request: Any) -> ChatOptions:
    """Everything of a chat request (or a BatchChatCompletionRequest) but its messages."""
    sampling = parse_sampling(request.sampling_params)
    constraint = parse_response_format(request.response_format, "response_format")
    tools = _parse_tools(list(request.tools), request.response_format.json_schema.ByteSize())
    tool_choice = _parse_tool_choice(request.tool_choice, tools)
    if constraint is not None and tool_choice not in ("auto", "none") and tools:
        raise InvalidArgument("response_format", "cannot be combined with a forced tool call (tool_choice)")
    logprobs = parse_logprobs(request.logprobs, request.HasField("logprobs"))
    return ChatOptions(sampling, tools, tool_choice, constraint, logprobs)


def chat_input(messages: list[messages_pb2.Message], options: ChatOptions) -> ChatInput:
    """A chat of these messages with options already parsed (a batch parses its options once)."""
    parsed = _parse_messages(messages)
    return ChatInput(parsed, options.sampling, options.tools, options.tool_choice, options.constraint, options.logprobs)


def parse_chat(request: Any) -> ChatInput:
    """ChatCompletionRequest / StreamChatCompletionRequest (same fields) -> ChatInput."""
    messages = _parse_messages(list(request.messages))
    options = parse_chat_options(request)
    return ChatInput(
        messages, options.sampling, options.tools, options.tool_choice, options.constraint, options.logprobs
    )


def parse_completion(request: Any) -> CompletionInput:
    """CompletionRequest / StreamCompletionRequest -> CompletionInput."""
    prompt = content_text(request.content, "content")
    if not prompt:
        raise InvalidArgument("content", "is required")
    return CompletionInput(
        prompt=prompt,
        sampling=parse_sampling(request.sampling_params),
        constraint=parse_response_format(request.response_format, "response_format"),
        logprobs=parse_logprobs(request.logprobs, request.HasField("logprobs")),
    )
