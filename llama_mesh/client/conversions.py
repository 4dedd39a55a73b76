"""Plain Python values to the common protos: messages, content, sampling, tools, tool choice, formats and enums.

Every function also accepts the proto it builds and passes it through (copied), so callers can mix both styles.
Mistakes raise `ValueError` / `TypeError` here, before anything is sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from google.protobuf import json_format, struct_pb2
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.message import Message as ProtoMessage

from llama.common.v1 import content_pb2, messages_pb2, sampling_pb2, tools_pb2

MessageLike = messages_pb2.Message | Mapping[str, Any]
ContentLike = str | content_pb2.Content | Sequence[Any]
ToolLike = tools_pb2.ToolDefinition | Mapping[str, Any]
ToolChoiceLike = str | tools_pb2.ToolChoice
ResponseFormatLike = sampling_pb2.ResponseFormat | Mapping[str, Any]

SAMPLING_KEYS = frozenset({"max_tokens", "temperature", "top_p", "top_k", "stop", "seed", "repetition_penalty"})

_P = TypeVar("_P", bound=ProtoMessage)


def copied(proto: _P) -> _P:
    """A copy of a proto message (so that building a request never changes the caller's objects)."""
    clone = type(proto)()
    clone.CopyFrom(proto)
    return clone


def enum_value(enum: EnumTypeWrapper, value: str | int, prefix: str) -> int:
    """An enum number from a number, a full name ("ROLE_USER") or a short one ("user", "USER").

    `prefix` is the enum's value prefix, e.g. "ROLE_". The *_UNSPECIFIED value is only accepted as a number.
    """
    if isinstance(value, bool):
        raise TypeError(f"expected a {enum.DESCRIPTOR.name} name or number, got {value!r}")
    if isinstance(value, int):
        if value not in enum.values():
            raise ValueError(f"{value} is not a {enum.DESCRIPTOR.name} value")
        return value
    name = value.strip().upper().replace("-", "_")
    if not name.startswith(prefix):
        name = prefix + name
    names: list[str] = list(enum.keys())  # an EnumTypeWrapper has no `in`
    if name.endswith("_UNSPECIFIED") or name not in names:
        choices = ", ".join(key.removeprefix(prefix).lower() for key in names if not key.endswith("UNSPECIFIED"))
        raise ValueError(f"unknown {enum.DESCRIPTOR.name} {value!r}; expected one of: {choices}")
    return enum.Value(name)


def enum_short_name(enum: EnumTypeWrapper, number: int, prefix: str) -> str:
    """The lower-case short name of an enum number, e.g. MODEL_TYPE_LLM -> "llm" ("" for *_UNSPECIFIED)."""
    try:
        name = enum.Name(number)
    except ValueError:
        return str(number)
    return "" if name.endswith("_UNSPECIFIED") else name.removeprefix(prefix).lower()


def to_struct(value: Mapping[str, Any] | struct_pb2.Struct | None) -> struct_pb2.Struct:
    """A google.protobuf.Struct from a JSON-like dict (None gives an empty Struct)."""
    if isinstance(value, struct_pb2.Struct):
        return copied(value)
    struct = struct_pb2.Struct()
    if value is not None:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected a dict for a JSON object, got {type(value).__name__}")
        struct.update(dict(value))
    return struct


def to_content_item(item: Any) -> content_pb2.ContentItem:
    """One content item: a string, a ContentItem / ImageContent proto, or a dict.

    Dicts: {"text": "..."}, {"type": "text", "text": "..."}, {"type": "image", "url": "...", "mime_type": "..."},
    {"type": "image", "data": b"...", "mime_type": "image/png"} or {"image": {"url": "..."}}.
    """
    if isinstance(item, content_pb2.ContentItem):
        return copied(item)
    if isinstance(item, str):
        return content_pb2.ContentItem(text=item)
    if isinstance(item, content_pb2.ImageContent):
        return content_pb2.ContentItem(image=item)
    if not isinstance(item, Mapping):
        raise TypeError(f"a content item must be a str, dict or ContentItem, got {type(item).__name__}")
    if "text" in item and item.get("type", "text") == "text":
        return content_pb2.ContentItem(text=str(item["text"]))
    image = item.get("image", item) if item.get("type", "image") == "image" else None
    if isinstance(image, Mapping) and ("url" in image or "data" in image):
        return content_pb2.ContentItem(image=_image(image))
    raise ValueError(f"cannot read content item {dict(item)!r}: expected text or an image with a url or data")


def _image(image: Mapping[str, Any]) -> content_pb2.ImageContent:
    mime_type = str(image.get("mime_type", ""))
    if "url" in image:
        return content_pb2.ImageContent(url=str(image["url"]), mime_type=mime_type)
    data = image["data"]
    if not isinstance(data, bytes | bytearray):
        raise TypeError("image data must be bytes")
    return content_pb2.ImageContent(data=bytes(data), mime_type=mime_type)


def to_content(content: ContentLike) -> content_pb2.Content:
    """Message content: a string (text), a Content proto, or a list of content items (see `to_content_item`)."""
    if isinstance(content, content_pb2.Content):
        return copied(content)
    if isinstance(content, str):
        return content_pb2.Content(text=content)
    if isinstance(content, Mapping | bytes) or not isinstance(content, Iterable):
        raise TypeError(f"content must be a str, a list of items or a Content proto, got {type(content).__name__}")
    return content_pb2.Content(items=content_pb2.ContentItems(items=[to_content_item(item) for item in content]))


def content_text(content: content_pb2.Content) -> str:
    """The text of a Content proto (its text items joined when it is interleaved)."""
    if content.WhichOneof("value") == "items":
        return "".join(item.text for item in content.items.items if item.WhichOneof("item") == "text")
    return content.text


def to_tool_call(call: tools_pb2.ToolCall | Mapping[str, Any]) -> tools_pb2.ToolCall:
    """A tool call: a proto or {"call_id", "tool_name", "arguments"} (arguments as JSON text or a dict)."""
    if isinstance(call, tools_pb2.ToolCall):
        return copied(call)
    arguments = call.get("arguments", "")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return tools_pb2.ToolCall(
        call_id=str(call.get("call_id", "")), tool_name=str(call.get("tool_name", "")), arguments=arguments
    )


_MESSAGE_KEYS = frozenset({"role", "content", "tool_calls", "call_id", "tool_name", "stop_reason"})


def to_message(message: MessageLike) -> messages_pb2.Message:
    """One conversation message from a Message proto or a dict.

    Dict keys: "role" ("system", "user", "assistant", "tool"), "content" (see `to_content`), and optionally
    "tool_calls" (assistant; see `to_tool_call`), "call_id" and "tool_name" (tool results), "stop_reason".
    """
    if isinstance(message, messages_pb2.Message):
        return copied(message)
    if not isinstance(message, Mapping):
        raise TypeError(f"a message must be a dict or a Message proto, got {type(message).__name__}")
    unknown = set(message) - _MESSAGE_KEYS
    if unknown:
        raise ValueError(f"unknown message keys: {', '.join(sorted(unknown))}")
    if "role" not in message:
        raise ValueError("a message needs a 'role'")
    proto = messages_pb2.Message(role=enum_value(messages_pb2.Role, message["role"], "ROLE_"))
    if message.get("content") is not None:
        proto.content.CopyFrom(to_content(message["content"]))
    proto.tool_calls.extend(to_tool_call(call) for call in message.get("tool_calls") or ())
    proto.call_id = str(message.get("call_id", ""))
    proto.tool_name = str(message.get("tool_name", ""))
    if message.get("stop_reason") is not None:
        proto.stop_reason = enum_value(messages_pb2.StopReason, message["stop_reason"], "STOP_REASON_")
    return proto


def to_messages(messages: str | MessageLike | Iterable[MessageLike]) -> list[messages_pb2.Message]:
    """A conversation: a list of messages (dicts or protos); a single string is one user message."""
    if isinstance(messages, str):
        return [messages_pb2.Message(role=messages_pb2.ROLE_USER, content=content_pb2.Content(text=messages))]
    if isinstance(messages, messages_pb2.Message | Mapping):
        return [to_message(messages)]
    converted = [to_message(message) for message in messages]
    if not converted:
        raise ValueError("a conversation needs at least one message")
    return converted


def sampling_params(
    *,
    max_tokens: int | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    top_k: int | None = None,
    stop: str | Sequence[str] | None = None,
    seed: int | None = None,
    repetition_penalty: float | None = None,
) -> sampling_pb2.SamplingParams:
    """SamplingParams from keyword values; the strategy follows from which of temperature / top_p / top_k are set.

    None of them, or temperature=0 alone: greedy (the strategy is left unset). top_k: top-k sampling (with the optional
    temperature). temperature and/or top_p: top-p (nucleus) sampling. top_k together with top_p is an error.
    """
    params = sampling_pb2.SamplingParams()
    if top_k is not None and top_p is not None:
        raise ValueError("top_k and top_p choose different sampling strategies; give one of them")
    if temperature is not None and temperature < 0:
        raise ValueError("temperature must be >= 0")
    if temperature == 0 and (top_k is not None or top_p is not None):
        raise ValueError("temperature=0 means greedy decoding; it cannot be combined with top_k or top_p")
    if top_k is not None:
        params.strategy.top_k.top_k = top_k
        if temperature is not None:
            params.strategy.top_k.temperature = temperature
    elif top_p is not None or temperature:
        strategy = params.strategy.top_p
        strategy.SetInParent()
        if temperature is not None:
            strategy.temperature = temperature
        if top_p is not None:
            strategy.top_p = top_p
    if max_tokens is not None:
        if max_tokens < 0:
            raise ValueError("max_tokens must be >= 0")
        params.max_tokens = max_tokens
    if repetition_penalty is not None:
        params.repetition_penalty = repetition_penalty
    if stop is not None:
        params.stop.extend([stop] if isinstance(stop, str) else list(stop))
    if seed is not None:
        params.seed = seed
    return params


def to_tool(tool: ToolLike) -> tools_pb2.ToolDefinition:
    """A ToolDefinition from a proto or {"name", "description", "parameters": <JSON schema>}.

    The OpenAI shape {"type": "function", "function": {...}} is accepted too.
    """
    if isinstance(tool, tools_pb2.ToolDefinition):
        return copied(tool)
    if not isinstance(tool, Mapping):
        raise TypeError(f"a tool must be a dict or a ToolDefinition, got {type(tool).__name__}")
    if tool.get("type") == "function" and isinstance(tool.get("function"), Mapping):
        tool = tool["function"]
    if not tool.get("name"):
        raise ValueError("a tool needs a 'name'")
    proto = tools_pb2.ToolDefinition(name=str(tool["name"]), description=str(tool.get("description", "")))
    if tool.get("parameters") is not None:
        proto.parameters.CopyFrom(to_struct(tool["parameters"]))
    return proto


def to_tools(tools: Iterable[ToolLike] | None) -> list[tools_pb2.ToolDefinition]:
    return [to_tool(tool) for tool in tools or ()]


def to_tool_choice(choice: ToolChoiceLike, tool_names: Iterable[str] = ()) -> tools_pb2.ToolChoice:
    """ "auto", "required" or "none" choose a mode; any other string names the tool the model must call.

    When `tool_names` are given, a named tool must be one of them.
    """
    if isinstance(choice, tools_pb2.ToolChoice):
        return copied(choice)
    if not isinstance(choice, str) or not choice:
        raise TypeError(f"tool_choice must be 'auto', 'required', 'none' or a tool name, got {choice!r}")
    mode = choice.strip().lower()
    if mode in ("auto", "required", "none"):
        return tools_pb2.ToolChoice(mode=enum_value(tools_pb2.ToolChoiceMode, mode, "TOOL_CHOICE_MODE_"))
    names = list(tool_names)
    if names and choice not in names:
        raise ValueError(f"tool_choice {choice!r} is none of the request's tools: {', '.join(names)}")
    return tools_pb2.ToolChoice(tool_name=choice)


def to_tool_prompt_format(value: str | int) -> int:
    """ "json", "function_tag" or "python_list" (or the enum's number)."""
    return enum_value(tools_pb2.ToolPromptFormat, value, "TOOL_PROMPT_FORMAT_")


def to_response_format(value: ResponseFormatLike) -> sampling_pb2.ResponseFormat:
    """{"json_schema": {...}} or {"grammar": "..."} (exactly one), or a ResponseFormat proto."""
    if isinstance(value, sampling_pb2.ResponseFormat):
        return copied(value)
    if not isinstance(value, Mapping):
        raise TypeError(f"response_format must be a dict or a ResponseFormat, got {type(value).__name__}")
    keys = set(value)
    if keys == {"json_schema"}:
        return sampling_pb2.ResponseFormat(json_schema=to_struct(value["json_schema"]))
    if keys == {"grammar"}:
        if not isinstance(value["grammar"], str) or not value["grammar"]:
            raise ValueError("response_format grammar must be non-empty text")
        return sampling_pb2.ResponseFormat(grammar=value["grammar"])
    raise ValueError("response_format must have exactly one key: 'json_schema' or 'grammar'")


def to_logprobs(value: int | bool | sampling_pb2.LogprobsConfig | None) -> sampling_pb2.LogprobsConfig | None:
    """LogprobsConfig asking for `value` alternatives per token (0..20); None or False: no logprobs; True: 0."""
    if value is None or value is False:
        return None
    if isinstance(value, sampling_pb2.LogprobsConfig):
        return copied(value)
    top_k = 0 if value is True else int(value)
    if not 0 <= top_k <= 20:
        raise ValueError("logprobs must be between 0 and 20")
    return sampling_pb2.LogprobsConfig(top_k=top_k)


def to_dict(message: ProtoMessage) -> dict[str, Any]:
    """A proto as a JSON-ready dict with the proto field names (enums as names, default values left out)."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)
