"""POST /v1/chat/completions on the inference API: unary, or streamed as OpenAI's chat.completion.chunk events.

Caps: at most MAX_MESSAGES messages, MAX_TOOLS tools, MAX_STOP stop strings, top_logprobs at most 20, one choice
(n = 1), max_tokens and seed within their proto fields (int32, int64), metadata as OpenAI caps it (metadata.py);
the body at most settings.max_request_bytes. The edge stores no chat completions (`store` is accepted and does
nothing), so `metadata` is checked and not kept.

Streaming with tools offered (tool_choice not "none"): whether the reply is a tool call is only known once it is
complete, so its text is held back and sent at the end, either as tool-call deltas or as content.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from llama.common.v1 import content_pb2, messages_pb2, tools_pb2
from llama.inference.v1 import inference_pb2
from services.openai_edge import convert
from services.openai_edge.calls import Mesh
from services.openai_edge.errors import bad_request
from services.openai_edge.json_body import JSONBodyRoute
from services.openai_edge.metadata import Metadata
from services.openai_edge.sse import Envelope, EventStream, opened

router = APIRouter(route_class=JSONBodyRoute)

MAX_MESSAGES = 2048
MAX_TOOLS = 128
MAX_STOP = 16
MAX_NAME = 256

CHAT_FIELDS = {
    **convert.SAMPLING_FIELDS,
    "model_id": "model",
    "messages": "messages",
    "tools": "tools",
    "tool_choice.tool_name": "tool_choice.function.name",
    "tool_choice": "tool_choice",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextPart(_Strict):
    type: Literal["text"]
    text: str


class ImageURL(_Strict):
    url: str = Field(min_length=1)
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(_Strict):
    type: Literal["image_url"]
    image_url: ImageURL


class RefusalPart(_Strict):
    type: Literal["refusal"]
    refusal: str


UserPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]
AssistantPart = Annotated[TextPart | RefusalPart, Field(discriminator="type")]


class FunctionCall(_Strict):
    name: str = Field(min_length=1, max_length=MAX_NAME)
    arguments: str


class ToolCall(_Strict):
    id: str = Field(min_length=1, max_length=MAX_NAME)
    type: Literal["function"] = "function"
    function: FunctionCall


class SystemMessage(_Strict):
    role: Literal["system", "developer"]
    content: str | list[TextPart]
    name: str | None = Field(default=None, max_length=MAX_NAME)


class UserMessage(_Strict):
    role: Literal["user"]
    content: str | list[UserPart]
    name: str | None = Field(default=None, max_length=MAX_NAME)


class AssistantMessage(_Strict):
    role: Literal["assistant"]
    content: str | list[AssistantPart] | None = None
    tool_calls: list[ToolCall] | None = Field(default=None, max_length=MAX_TOOLS)
    refusal: str | None = None
    name: str | None = Field(default=None, max_length=MAX_NAME)


class ToolMessage(_Strict):
    role: Literal["tool"]
    content: str | list[TextPart]
    tool_call_id: str = Field(min_length=1, max_length=MAX_NAME)


Message = Annotated[SystemMessage | UserMessage | AssistantMessage | ToolMessage, Field(discriminator="role")]


class FunctionDefinition(_Strict):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Strict):
    type: Literal["function"]
    function: FunctionDefinition


class NamedFunction(_Strict):
    name: str = Field(min_length=1, max_length=64)


class NamedToolChoice(_Strict):
    type: Literal["function"]
    function: NamedFunction


class JSONSchemaFormat(_Strict):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Strict):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JSONSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_given(self) -> ResponseFormat:
        if self.type == "json_schema" and (self.json_schema is None or self.json_schema.schema_ is None):
            raise ValueError("type json_schema needs json_schema.schema")
        return self


class StreamOptions(_Strict):
    include_usage: bool = False


class ChatCompletionRequest(_Strict):
    model: str = Field(min_length=1, max_length=MAX_NAME)
    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    stream_options: StreamOptions | None = None
    tools: list[Tool] | None = Field(default=None, max_length=MAX_TOOLS)
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1, le=convert.INT32_MAX)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=convert.INT32_MAX)
    stop: str | list[str] | None = None
    seed: int | None = Field(default=None, ge=convert.INT64_MIN, le=convert.INT64_MAX)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    n: int | None = Field(default=None, ge=1, le=128)
    user: str | None = Field(default=None, max_length=MAX_NAME)
    # Accepted for compatibility; only their neutral values are supported (others: 400 naming them).
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    modalities: list[Literal["text"]] | None = None
    metadata: Metadata | None = None
    store: bool | None = None
    service_tier: str | None = None

    @model_validator(mode="after")
    def _supported(self) -> ChatCompletionRequest:
        if isinstance(self.stop, list) and len(self.stop) > MAX_STOP:
            raise bad_request("stop", f"at most {MAX_STOP} stop strings, got {len(self.stop)}")
        if self.n is not None and self.n > 1:
            raise bad_request("n", "only one choice per request is supported (n = 1); send n requests instead")
        for name in ("frequency_penalty", "presence_penalty"):
            if getattr(self, name):
                raise bad_request(name, "is not supported; leave it unset or 0")
        if self.logit_bias:
            raise bad_request("logit_bias", "is not supported")
        if self.stream_options is not None and not self.stream:
            raise bad_request("stream_options", "is only allowed with stream: true")
        return self


def _text(content: str | list[Any] | None) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    return "".join(part.text if isinstance(part, TextPart) else part.refusal for part in content)


def _user_content(content: str | list[Any]) -> content_pb2.Content:
    if isinstance(content, str):
        return content_pb2.Content(text=content)
    items = [
        content_pb2.ContentItem(text=part.text)
        if isinstance(part, TextPart)
        else content_pb2.ContentItem(image=content_pb2.ImageContent(url=part.image_url.url))
        for part in content
    ]
    return content_pb2.Content(items=content_pb2.ContentItems(items=items))


def messages_proto(messages: list[Any]) -> list[messages_pb2.Message]:
    """OpenAI's messages as the mesh's, one for one (so `messages[i]` in an error is the same message)."""
    names_by_call = {
        call.id: call.function.name
        for message in messages
        if isinstance(message, AssistantMessage)
        for call in message.tool_calls or ()
    }
    result = []
    for message in messages:
        if isinstance(message, SystemMessage):
            proto = messages_pb2.Message(
                role=messages_pb2.ROLE_SYSTEM, content=content_pb2.Content(text=_text(message.content))
            )
        elif isinstance(message, UserMessage):
            proto = messages_pb2.Message(role=messages_pb2.ROLE_USER, content=_user_content(message.content))
        elif isinstance(message, AssistantMessage):
            proto = messages_pb2.Message(
                role=messages_pb2.ROLE_ASSISTANT,
                content=content_pb2.Content(text=_text(message.content)),
                tool_calls=[
                    tools_pb2.ToolCall(call_id=call.id, tool_name=call.function.name, arguments=call.function.arguments)
                    for call in message.tool_calls or ()
                ],
            )
        else:
            proto = messages_pb2.Message(
                role=messages_pb2.ROLE_TOOL,
                content=content_pb2.Content(text=_text(message.content)),
                call_id=message.tool_call_id,
                tool_name=names_by_call.get(message.tool_call_id, ""),
            )
        result.append(proto)
    return result


def chat_request(body: ChatCompletionRequest) -> inference_pb2.ChatCompletionRequest:
    request = inference_pb2.ChatCompletionRequest(
        model_id=body.model,
        messages=messages_proto(body.messages),
        sampling_params=convert.sampling(
            body.temperature,
            body.top_p,
            body.max_completion_tokens or body.max_tokens,
            body.stop,
            body.seed,
        ),
        tools=convert.tool_definitions([tool.function.model_dump(exclude_none=True) for tool in body.tools or ()]),
    )
    choice = body.tool_choice
    named = choice.function.model_dump() if isinstance(choice, NamedToolChoice) else choice
    if (mode := convert.tool_choice(named)) is not None:
        request.tool_choice.CopyFrom(mode)
    if body.response_format is not None:
        schema = body.response_format.json_schema.schema_ if body.response_format.json_schema else None
        if (format_ := convert.response_format(body.response_format.type, schema)) is not None:
            request.response_format.CopyFrom(format_)
    if (logprobs := convert.logprobs_config(body.logprobs, body.top_logprobs)) is not None:
        request.logprobs.CopyFrom(logprobs)
    return request


def _tool_calls(message: messages_pb2.Message) -> list[dict[str, Any]]:
    return [
        {"id": call.call_id, "type": "function", "function": {"name": call.tool_name, "arguments": call.arguments}}
        for call in message.tool_calls
    ]


def _logprobs(items: Any, wanted: bool) -> dict[str, Any] | None:
    return {"content": convert.chat_logprobs(list(items)), "refusal": None} if wanted else None


@router.post("/chat/completions")
async def chat_completions(body: ChatCompletionRequest, mesh: Mesh) -> Any:
    request = chat_request(body)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        envelope = Envelope("chat.completion.chunk", "chatcmpl", body.model, include_usage)
        streamed = convert.as_stream_request(request, inference_pb2.StreamChatCompletionRequest)
        events = await opened(mesh.stream(mesh.client.inference.StreamChatCompletion, streamed, CHAT_FIELDS))
        return EventStream(_chunks(body, events, envelope), events)
    reply = await mesh.call(mesh.client.inference.ChatCompletion, request, CHAT_FIELDS)
    message = reply.completion_message
    tool_calls = _tool_calls(message)
    answer: dict[str, Any] = {"role": "assistant", "content": None if tool_calls else message.content.text}
    if tool_calls:
        answer["tool_calls"] = tool_calls
    choice = {
        "index": 0,
        "message": answer,
        "logprobs": _logprobs(reply.logprobs, bool(body.logprobs)),
        "finish_reason": convert.finish_reason(message.stop_reason, bool(tool_calls)),
    }
    return Envelope("chat.completion", "chatcmpl", body.model).wrap([choice], usage=convert.usage(reply.usage))


async def _chunks(
    body: ChatCompletionRequest, events: AsyncIterator[inference_pb2.StreamChatCompletionResponse], envelope: Envelope
) -> AsyncIterator[dict[str, Any]]:
    hold_text = bool(body.tools) and body.tool_choice != "none"

    def chunk(delta: dict[str, Any], finish: str | None = None, logprobs: Any = None) -> dict[str, Any]:
        return envelope.wrap([{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}])

    yield chunk({"role": "assistant", "content": ""})
    held: list[str] = []
    async for event in events:
        kind = event.WhichOneof("event")
        if kind == "chunk":
            if hold_text:
                held.append(event.chunk.text_delta)
                continue
            logprobs = _logprobs(event.chunk.logprobs, bool(body.logprobs))
            yield chunk({"content": event.chunk.text_delta}, logprobs=logprobs)
        elif kind == "error":
            raise convert.stream_error(event.error)
        elif kind == "complete":
            message = event.complete.completion_message
            tool_calls = _tool_calls(message)
            for index, call in enumerate(tool_calls):
                yield chunk({"tool_calls": [{"index": index, **call}]})
            if held and not tool_calls:
                yield chunk({"content": "".join(held)})
            yield chunk({}, convert.finish_reason(message.stop_reason, bool(tool_calls)))
            if envelope.include_usage:
                yield envelope.usage_chunk(convert.usage(event.complete.usage))
            return
