"""llama.inference.v1.InferenceService: converts protobuf to plain objects, calls generation, converts back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any, TypeVar

import grpc

from llama.common.v1 import messages_pb2, resources_pb2, sampling_pb2, stream_error_pb2, tools_pb2
from llama.inference.v1 import inference_pb2 as pb
from llama.inference.v1 import inference_pb2_grpc
from llama_mesh.resources import resource_from_context
from llama_mesh.runtime.channels import MAX_MESSAGE_BYTES
from llama_mesh.runtime.errors import (
    FailedPrecondition,
    Internal,
    InvalidArgument,
    MeshError,
    status_code_number,
)
from services.inference.coalescing import coalesced
from services.inference.generation import GenerationResult, stream_chat, stream_completion
from services.inference.provider import ChatEngine, Embedder, TextEngine
from services.inference.providers import ProviderSet
from services.inference.reply_limits import (
    ReplyLogprobs,
    check_batch_max_tokens,
    checked_reply,
    logprob_entries,
)
from services.inference.request_parsing import (
    ChatInput,
    CompletionInput,
    chat_input,
    content_text,
    parse_chat,
    parse_chat_options,
    parse_completion,
)
from services.inference.span_attributes import record_generation, record_model
from services.inference.usage_metrics import record_usage

MAX_EMBEDDING_INPUTS = 2048
MAX_BATCH_CONVERSATIONS = 256
BATCH_CONCURRENCY = 16  # conversations of one BatchChatCompletion handed to the engine at a time
# A request of this size at most, with no JSON schema to check, is parsed on the event loop (tens of microseconds,
# less than a worker thread's round trip); others in a worker thread: checking a JSON schema costs ~0.2 ms per object
# in it, and thousands of messages take a while too.
INLINE_PARSE_BYTES = 16 * 1024

Parsed = TypeVar("Parsed")


async def _parsed(parse: Callable[[Any], Parsed], request: Any) -> Parsed:
    """`parse(request)`, off the event loop when the request could hold it up."""
    schemas = request.response_format.HasField("json_schema") or any(
        field.name == "tools" for field, _ in request.ListFields()
    )
    if not schemas and request.ByteSize() <= INLINE_PARSE_BYTES:
        return parse(request)
    return await asyncio.to_thread(parse, request)


_TRUNCATION = {pb.TEXT_TRUNCATION_NONE: "none", pb.TEXT_TRUNCATION_END: "end", pb.TEXT_TRUNCATION_START: "start"}
_TASK = {pb.EMBEDDING_TASK_TYPE_QUERY: "query", pb.EMBEDDING_TASK_TYPE_DOCUMENT: "document"}
Event = TypeVar("Event")
log = logging.getLogger(__name__)


def _usage(result: GenerationResult) -> sampling_pb2.Usage:
    return sampling_pb2.Usage(
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        total_tokens=result.prompt_tokens + result.completion_tokens,
    )


def _assistant_message(result: GenerationResult) -> messages_pb2.Message:
    message = messages_pb2.Message(role=messages_pb2.ROLE_ASSISTANT, stop_reason=result.stop_reason)
    if result.tool_calls:
        message.tool_calls.extend(
            tools_pb2.ToolCall(call_id=call.call_id, tool_name=call.tool_name, arguments=call.arguments)
            for call in result.tool_calls
        )
    else:
        message.content.text = result.text
    return message


def _stream_error(error: MeshError) -> stream_error_pb2.StreamError:
    return stream_error_pb2.StreamError(code=status_code_number(error.code), reason=error.reason, message=error.message)


async def _failure_as_last_event(
    events: AsyncIterator[Event], error_event: Callable[[stream_error_pb2.StreamError], Event]
) -> AsyncIterator[Event]:
    """The events, passed on. A failure before the first one is the call's status; after it (some output was sent)
    it is the stream's last event, an `error` event (llama.common.v1.StreamError), which clients raise. Closing this
    iterator (the caller went away) closes `events` at once, which aborts the generation in the engine."""
    sent = False
    try:
        async with contextlib.aclosing(events):
            async for event in events:
                sent = True
                yield event
    except MeshError as error:
        if not sent:
            raise
        yield error_event(_stream_error(error))
    except Exception as exc:
        if not sent:
            raise
        log.exception("generation failed mid-stream")
        yield error_event(_stream_error(Internal(f"generation failed: {type(exc).__name__}", reason="ENGINE_FAILED")))


class InferenceServicer(inference_pb2_grpc.InferenceServiceServicer):
    def __init__(self, providers: ProviderSet, reply_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._providers = providers
        self._reply_bytes = reply_bytes  # the most a reply may hold: the server's max send message length

    def _resolve(self, model_id: str, context: grpc.aio.ServicerContext) -> tuple[str, str]:
        """(provider_id, the provider's model name): from the resource the gateway resolved or, for a call made
        directly to this service, from the providers' own model names."""
        if not model_id:
            raise InvalidArgument("model_id", "is required")
        model = resource_from_context(context, resources_pb2.Model)
        if model is not None:
            return model.provider_id, model.provider_resource_id
        return self._providers.find_model(model_id)

    async def _model(
        self, model_id: str, context: grpc.aio.ServicerContext
    ) -> tuple[str, TextEngine | ChatEngine | Embedder]:
        name, engine, _ = await self._provided_model(model_id, context)
        return name, engine

    async def _provided_model(
        self, model_id: str, context: grpc.aio.ServicerContext
    ) -> tuple[str, TextEngine | ChatEngine | Embedder, int]:
        """(the provider's model name, its engine, the provider's stream_interval)."""
        provider_id, name = self._resolve(model_id, context)
        record_model(model_id, provider_id, name)
        provider = self._providers.get(provider_id)
        return name, await provider.get(name), provider.stream_interval

    async def _text_engine(
        self, model_id: str, context: grpc.aio.ServicerContext
    ) -> tuple[str, TextEngine | ChatEngine]:
        name, engine, _ = await self._streaming_engine(model_id, context)
        return name, engine

    async def _streaming_engine(
        self, model_id: str, context: grpc.aio.ServicerContext
    ) -> tuple[str, TextEngine | ChatEngine, int]:
        name, engine, stream_interval = await self._provided_model(model_id, context)
        if isinstance(engine, Embedder):
            raise FailedPrecondition(
                f"model {model_id!r} is an embedding model; it cannot generate text",
                reason="WRONG_MODEL_TYPE",
                identifier=model_id,
            )
        return name, engine, stream_interval

    async def ChatCompletion(self, request, context):  # noqa: N802, ANN001, ANN201 - gRPC method
        chat = await _parsed(parse_chat, request)
        name, engine = await self._text_engine(request.model_id, context)
        reply = ReplyLogprobs(self._reply_bytes, chat.logprobs)
        chat = replace(chat, sampling=reply.fitted(engine, name, chat.sampling))
        result = GenerationResult()
        async for _ in record_generation(stream_chat(engine, chat, name, result, reply.fits), result, name):
            pass  # the reply keeps each chunk's logprobs
        response = pb.ChatCompletionResponse(
            completion_message=_assistant_message(result), logprobs=reply.entries, usage=_usage(result)
        )
        return checked_reply(response, self._reply_bytes, "ask for fewer max_tokens, or stream the reply")

    async def StreamChatCompletion(self, request, context) -> AsyncIterator[pb.StreamChatCompletionResponse]:  # noqa: N802, ANN001
        chat = await _parsed(parse_chat, request)
        name, engine, stream_interval = await self._streaming_engine(request.model_id, context)
        events = self._chat_events(chat, name, engine, stream_interval)
        async for event in _failure_as_last_event(events, lambda error: pb.StreamChatCompletionResponse(error=error)):
            yield event

    async def _chat_events(
        self, chat: ChatInput, name: str, engine: TextEngine | ChatEngine, stream_interval: int
    ) -> AsyncIterator[pb.StreamChatCompletionResponse]:
        result = GenerationResult()
        chunks = record_generation(stream_chat(engine, chat, name, result), result, name)
        async for chunk in coalesced(chunks, stream_interval):
            if chunk.logprobs:
                yield pb.StreamChatCompletionResponse(
                    chunk=pb.ChatCompletionChunk(text_delta=chunk.text, logprobs=logprob_entries(chunk))
                )
            elif chunk.text:
                yield pb.StreamChatCompletionResponse(chunk=pb.ChatCompletionChunk(text_delta=chunk.text))
        yield pb.StreamChatCompletionResponse(
            complete=pb.ChatCompletionComplete(completion_message=_assistant_message(result), usage=_usage(result))
        )

    async def Completion(self, request, context):  # noqa: N802, ANN001, ANN201
        completion = await _parsed(parse_completion, request)
        name, engine = await self._text_engine(request.model_id, context)
        reply = ReplyLogprobs(self._reply_bytes, completion.logprobs)
        completion = replace(completion, sampling=reply.fitted(engine, name, completion.sampling))
        result = GenerationResult()
        async for _ in record_generation(stream_completion(engine, completion, name, result, reply.fits), result, name):
            pass  # the reply keeps each chunk's logprobs
        return pb.CompletionResponse(
            text=result.text, stop_reason=result.stop_reason, logprobs=reply.entries, usage=_usage(result)
        )

    async def StreamCompletion(self, request, context) -> AsyncIterator[pb.StreamCompletionResponse]:  # noqa: N802, ANN001
        completion = await _parsed(parse_completion, request)
        name, engine, stream_interval = await self._streaming_engine(request.model_id, context)
        events = self._completion_events(completion, name, engine, stream_interval)
        async for event in _failure_as_last_event(events, lambda error: pb.StreamCompletionResponse(error=error)):
            yield event

    async def _completion_events(
        self, completion: CompletionInput, name: str, engine: TextEngine | ChatEngine, stream_interval: int
    ) -> AsyncIterator[pb.StreamCompletionResponse]:
        result = GenerationResult()
        chunks = record_generation(stream_completion(engine, completion, name, result), result, name)
        async for chunk in coalesced(chunks, stream_interval):
            if chunk.logprobs:
                yield pb.StreamCompletionResponse(
                    chunk=pb.CompletionChunk(text_delta=chunk.text, logprobs=logprob_entries(chunk))
                )
            elif chunk.text:
                yield pb.StreamCompletionResponse(chunk=pb.CompletionChunk(text_delta=chunk.text))
        yield pb.StreamCompletionResponse(
            complete=pb.CompletionComplete(text=result.text, stop_reason=result.stop_reason, usage=_usage(result))
        )

    async def Embeddings(self, request, context):  # noqa: N802, ANN001, ANN201
        if not request.contents:
            raise InvalidArgument("contents", "at least one text is required")
        if len(request.contents) > MAX_EMBEDDING_INPUTS:
            raise InvalidArgument(
                "contents", f"at most {MAX_EMBEDDING_INPUTS} texts per call, got {len(request.contents)}"
            )
        for index, text in enumerate(request.contents):
            if not text.strip():
                raise InvalidArgument(f"contents[{index}]", "must not be empty")
        _, embedder = await self._model(request.model_id, context)
        if not isinstance(embedder, Embedder):
            raise FailedPrecondition(
                f"model {request.model_id!r} is not an embedding model",
                reason="WRONG_MODEL_TYPE",
                identifier=request.model_id,
            )
        dimension = embedder.dimension
        if request.HasField("output_dimension") and not 0 < request.output_dimension <= dimension:
            raise InvalidArgument("output_dimension", f"must be in 1..{dimension}, got {request.output_dimension}")
        vectors = await embedder.embed(
            list(request.contents),
            truncation=_TRUNCATION.get(request.text_truncation, "end"),
            task=_TASK.get(request.task_type, ""),
        )
        if request.HasField("output_dimension") and request.output_dimension < dimension:
            vectors = [_truncate(vector, request.output_dimension) for vector in vectors]
        return pb.EmbeddingsResponse(embeddings=[pb.Embedding(values=vector) for vector in vectors])

    async def BatchChatCompletion(self, request, context):  # noqa: N802, ANN001, ANN201
        if not request.conversations:
            raise InvalidArgument("conversations", "at least one conversation is required")
        if len(request.conversations) > MAX_BATCH_CONVERSATIONS:
            raise InvalidArgument(
                "conversations", f"at most {MAX_BATCH_CONVERSATIONS} per call, got {len(request.conversations)}"
            )
        options = await _parsed(parse_chat_options, request)  # once: the same for every conversation
        name, engine = await self._text_engine(request.model_id, context)
        share = self._reply_bytes // len(request.conversations)  # of the reply, for each conversation
        if options.logprobs:
            check_batch_max_tokens(engine, name, len(request.conversations), options.sampling, options.logprobs, share)
        gate = asyncio.Semaphore(BATCH_CONCURRENCY)

        async def one(index: int, conversation: pb.ChatConversation) -> pb.BatchChatCompletionResult:
            try:
                chat = chat_input(list(conversation.messages), options)
            except InvalidArgument as error:
                error.message = f"conversations[{index}].{error.message}"
                return pb.BatchChatCompletionResult(error=_stream_error(error))
            result = GenerationResult()
            reply = ReplyLogprobs(share, options.logprobs)
            async with gate:
                started = time.perf_counter()
                try:
                    async for _ in stream_chat(engine, chat, name, result, reply.fits):
                        pass  # the reply keeps each chunk's logprobs
                except MeshError as error:
                    return pb.BatchChatCompletionResult(error=_stream_error(error))
                except Exception as exc:  # the conversation's own failure, as a failing item of the batch
                    log.exception("generation failed in conversations[%d] of a batch", index)
                    failure = Internal(f"generation failed: {type(exc).__name__}", reason="ENGINE_FAILED")
                    return pb.BatchChatCompletionResult(error=_stream_error(failure))
                finally:
                    record_usage(name, result.prompt_tokens, result.completion_tokens, time.perf_counter() - started)
            return pb.BatchChatCompletionResult(
                response=pb.ChatCompletionResponse(
                    completion_message=_assistant_message(result), logprobs=reply.entries, usage=_usage(result)
                )
            )

        # A task group: when the call ends early (cancelled, past its deadline) no conversation goes on generating.
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(i, c)) for i, c in enumerate(request.conversations)]
        reply = pb.BatchChatCompletionResponse(results=[task.result() for task in tasks])
        return checked_reply(reply, self._reply_bytes, "send fewer conversations per call or fewer max_tokens")

    async def GetEngineStatus(self, request, context):  # noqa: N802, ANN001, ANN201
        provider_id, name = self._resolve(request.model_id, context)
        provider = self._providers.get(provider_id)
        response = pb.GetEngineStatusResponse(
            provider_id=provider_id, provider_resource_id=name, loaded=provider.is_loaded(name)
        )
        if response.loaded:
            engine = await provider.get(name)
            if not isinstance(engine, Embedder):
                stats = engine.stats()
                response.running_requests = stats.running_requests
                response.waiting_requests = stats.waiting_requests
        return response


def _truncate(vector: list[float], dimension: int) -> list[float]:
    head = vector[:dimension]
    norm = math.sqrt(sum(value * value for value in head)) or 1.0
    return [value / norm for value in head]


__all__ = ["InferenceServicer", "content_text"]
