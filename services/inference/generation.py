"""From a validated chat or completion to a stream of engine chunks: prompt rendering, tools, limits, stop reasons."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field, replace

from llama.common.v1 import messages_pb2
from llama_mesh.runtime.errors import InvalidArgument
from services.inference.provider import (
    ChatEngine,
    ChatGenerationChunk,
    ChatGenerationRequest,
    ChatPrompt,
    GenerationChunk,
    GenerationRequest,
    InvalidConstraint,
    OutputConstraint,
    Prompt,
    SamplingParams,
    TextEngine,
)
from services.inference.request_parsing import ChatInput, CompletionInput
from services.inference.tool_calls import ParsedToolCall, forced_call_schema, parse_tool_calls, tool_system_prompt


@dataclass
class GenerationResult:
    """What the whole generation produced; filled in as the chunks go by."""

    text: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    tool_calls: list[ParsedToolCall] = field(default_factory=list)

    @property
    def stop_reason(self) -> int:
        if self.finish_reason == "length":
            return messages_pb2.STOP_REASON_OUT_OF_TOKENS
        if self.tool_calls:
            return messages_pb2.STOP_REASON_END_OF_MESSAGE
        return messages_pb2.STOP_REASON_END_OF_TURN


# Whether a chunk still fits the reply (which then keeps it): reply_limits.ReplyLogprobs.fits.
Fits = Callable[[GenerationChunk], bool]

_TOOLS_VARIABLE = re.compile(r"\btools\b")


def _template_renders_tools(engine: TextEngine) -> bool:
    """Whether the model's own chat template presents tool definitions (Llama 3.1+, Qwen, Hermes... do)."""
    source = engine.chat_template_source
    return bool(source and _TOOLS_VARIABLE.search(source))


def _template_tools(tools: list[dict]) -> list[dict]:
    return [{"type": "function", "function": tool} for tool in tools]


def _with_tool_prompt(chat: ChatInput) -> list[dict]:
    """For templates without tool support: the tools described in the system message, earlier calls as JSON."""
    prompt = tool_system_prompt(chat.tools)
    messages = [dict(message) for message in chat.messages]
    if messages[0]["role"] == "system":
        messages[0]["content"] = f"{messages[0]['content']}\n\n{prompt}"
    else:
        messages.insert(0, {"role": "system", "content": prompt})
    for message in messages:  # templates without tool support show earlier calls as the JSON the model was asked for
        if message.get("tool_calls") and not message["content"]:
            calls = [
                {"name": c["function"]["name"], "arguments": c["function"]["arguments"]} for c in message["tool_calls"]
            ]
            message["content"] = json.dumps(calls[0] if len(calls) == 1 else calls)
    return messages


def render_chat_prompt(engine: TextEngine, chat: ChatInput) -> ChatPrompt:
    """The prompt for a chat: tools go through the model's own template when it renders them, else a system prompt."""
    if not chat.tools or chat.tool_choice == "none":
        return engine.render_chat(chat.messages, None)
    if _template_renders_tools(engine):
        return engine.render_chat(chat.messages, _template_tools(chat.tools))
    return engine.render_chat(_with_tool_prompt(chat), None)


async def _fit_to_context(
    engine: TextEngine, prompt: Prompt, sampling: SamplingParams, field_name: str, model_name: str
) -> SamplingParams:
    prompt_tokens = await asyncio.to_thread(engine.count_tokens, prompt)
    room = engine.context_length - prompt_tokens
    if room <= 0:
        raise InvalidArgument(
            field_name,
            f"the prompt is at least {prompt_tokens} tokens but model {model_name!r} accepts at most "
            f"{engine.context_length}; shorten it",
            reason="PROMPT_TOO_LONG",
            prompt_tokens=prompt_tokens,
            context_length=engine.context_length,
        )
    if sampling.max_tokens == 0 or sampling.max_tokens > room:
        return replace(sampling, max_tokens=room)
    return sampling


async def _run(
    stream: AsyncIterator[GenerationChunk], result: GenerationResult, field_name: str, fits: Fits | None
) -> AsyncIterator[GenerationChunk]:
    """Pass the engine's chunks on, recording them in `result`; closing this closes (aborts) the engine stream. The
    first chunk that `fits` refuses ends the generation, unrecorded, as max_tokens would."""
    try:
        async with aclosing(stream) as chunks:
            async for chunk in chunks:
                if fits is not None and not fits(chunk):
                    result.finish_reason = "length"
                    return
                result.text += chunk.text
                result.prompt_tokens = chunk.prompt_tokens
                result.completion_tokens = chunk.completion_tokens
                if chunk.finish_reason is not None:
                    result.finish_reason = chunk.finish_reason
                if isinstance(chunk, ChatGenerationChunk) and chunk.tool_calls:
                    result.tool_calls = [ParsedToolCall(c.call_id, c.tool_name, c.arguments) for c in chunk.tool_calls]
                yield chunk
    except InvalidConstraint as exc:
        raise InvalidArgument(field_name, str(exc), reason="INVALID_RESPONSE_FORMAT") from exc


async def stream_chat(
    engine: TextEngine | ChatEngine,
    chat: ChatInput,
    model_name: str,
    result: GenerationResult,
    fits: Fits | None = None,
) -> AsyncIterator[GenerationChunk]:
    """Generate a chat reply; `result` holds the text, usage and parsed tool calls once the stream ends. With `fits`,
    the generation ends before the first chunk it refuses."""
    if isinstance(engine, ChatEngine):
        request = ChatGenerationRequest(
            f"chat-{uuid.uuid4().hex}",
            chat.messages,
            chat.sampling,
            chat.tools,
            chat.tool_choice,
            chat.constraint,
            chat.logprobs,
        )
        async for chunk in _run(engine.chat(request), result, "response_format", fits):
            yield chunk
        return
    offers_tools = bool(chat.tools) and chat.tool_choice != "none"
    prompt = await asyncio.to_thread(render_chat_prompt, engine, chat)
    sampling = await _fit_to_context(engine, prompt, chat.sampling, "messages", model_name)
    constraint = chat.constraint
    forced = bool(chat.tools) and chat.tool_choice not in ("auto", "none")
    if forced:
        constraint = OutputConstraint(json_schema=forced_call_schema(chat.tools, chat.tool_choice))
    request = GenerationRequest(f"chat-{uuid.uuid4().hex}", prompt, sampling, constraint, chat.logprobs)
    async for chunk in _run(engine.generate(request), result, "response_format", fits):
        yield chunk
    if offers_tools:
        result.tool_calls = parse_tool_calls(result.text, chat.tools)


async def stream_completion(
    engine: TextEngine | ChatEngine,
    completion: CompletionInput,
    model_name: str,
    result: GenerationResult,
    fits: Fits | None = None,
) -> AsyncIterator[GenerationChunk]:
    sampling = completion.sampling
    if isinstance(engine, TextEngine):
        sampling = await _fit_to_context(engine, completion.prompt, sampling, "content", model_name)
    request = GenerationRequest(
        f"cmpl-{uuid.uuid4().hex}", completion.prompt, sampling, completion.constraint, completion.logprobs
    )
    stream = engine.generate(request) if isinstance(engine, TextEngine) else engine.complete(request)
    async for chunk in _run(stream, result, "response_format", fits):
        yield chunk
