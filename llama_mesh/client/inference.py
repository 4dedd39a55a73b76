"""`client.inference`: chat, completion, embeddings, batches and engine status, sync and async.

    response = client.inference.chat_completion("smollm2-135m-instruct", [{"role": "user", "content": "Hi"}],
                                                max_tokens=32, temperature=0.7)
    print(response.completion_message.content.text)
    for event in client.inference.stream_chat_completion(model, "Tell me a joke"):
        if event.HasField("chunk"):
            print(event.chunk.text_delta, end="")

Keyword parameters are described in `llama_mesh.client.request_builders`. Invalid parameters raise ValueError or
TypeError before anything is sent. Stream methods yield the stream's events (protos) as they come, including an
`error` event should the stream fail after some output (use `errors.raise_for_stream_error` to turn it into an
exception); a failure before any output raises LlamaMeshError. Breaking out of a stream cancels the call.
"""

# ruff: noqa: ASYNC109 - `timeout` is the gRPC deadline handed to the call, named as grpc.aio names it.

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any

from llama.inference.v1 import inference_pb2, inference_pb2_grpc
from llama_mesh.client import request_builders as build
from llama_mesh.client.conversions import ContentLike
from llama_mesh.client.transport import AsyncTransport, Transport


def _vectors(response: inference_pb2.EmbeddingsResponse) -> list[list[float]]:
    return [list(embedding.values) for embedding in response.embeddings]


class Inference:
    """InferenceService calls through the gateway (blocking)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._stub = inference_pb2_grpc.InferenceServiceStub(transport.channel)

    def chat_completion(
        self, model_id: str, messages: Any, *, timeout: float | None = None, **params: Any
    ) -> inference_pb2.ChatCompletionResponse:
        """One assistant message for `messages` (a list of dicts / Message protos, or one user string)."""
        request = build.chat_completion_request(model_id, messages, **params)
        return self._transport.unary(self._stub.ChatCompletion, request, timeout)

    def stream_chat_completion(
        self, model_id: str, messages: Any, *, timeout: float | None = None, **params: Any
    ) -> Iterator[inference_pb2.StreamChatCompletionResponse]:
        """Events as generated: `chunk` (text_delta) events, then one `complete` (or an `error`)."""
        request = build.stream_chat_completion_request(model_id, messages, **params)
        return self._transport.stream(self._stub.StreamChatCompletion, request, timeout)

    def completion(
        self, model_id: str, content: ContentLike, *, timeout: float | None = None, **params: Any
    ) -> inference_pb2.CompletionResponse:
        """The continuation of raw text (no chat template)."""
        request = build.completion_request(model_id, content, **params)
        return self._transport.unary(self._stub.Completion, request, timeout)

    def stream_completion(
        self, model_id: str, content: ContentLike, *, timeout: float | None = None, **params: Any
    ) -> Iterator[inference_pb2.StreamCompletionResponse]:
        request = build.stream_completion_request(model_id, content, **params)
        return self._transport.stream(self._stub.StreamCompletion, request, timeout)

    def embeddings(
        self,
        model_id: str,
        contents: str | Sequence[str],
        output_dimension: int | None = None,
        *,
        task_type: str | None = None,
        text_truncation: str | None = None,
        timeout: float | None = None,
    ) -> list[list[float]]:
        """One vector per text, in order; output_dimension truncates (Matryoshka) where the model allows."""
        request = build.embeddings_request(
            model_id, contents, output_dimension=output_dimension, task_type=task_type, text_truncation=text_truncation
        )
        return _vectors(self._transport.unary(self._stub.Embeddings, request, timeout))

    def batch_chat_completion(
        self, model_id: str, conversations: Iterable[Any], *, timeout: float | None = None, **params: Any
    ) -> inference_pb2.BatchChatCompletionResponse:
        """One result per conversation, in order: each a `response` or an `error` (one failure spares the rest)."""
        request = build.batch_chat_completion_request(model_id, conversations, **params)
        return self._transport.unary(self._stub.BatchChatCompletion, request, timeout)

    def engine_status(self, model_id: str, *, timeout: float | None = None) -> inference_pb2.GetEngineStatusResponse:
        """Whether the model is loaded and how many requests its engine runs and queues."""
        request = inference_pb2.GetEngineStatusRequest(model_id=model_id)
        return self._transport.unary(self._stub.GetEngineStatus, request, timeout)


class AsyncInference:
    """The async flavour of `Inference`: the same methods, awaited; stream methods return async iterators."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport
        self._stub = inference_pb2_grpc.InferenceServiceStub(transport.channel)

    async def chat_completion(
        self, model_id: str, messages: Any, *, timeout: float | None = None, **params: Any
    ) -> inference_pb2.ChatCompletionResponse:
        request = build.chat_completion_request(model_id, messages, **params)
        return await self._transport.unary(self._stub.ChatCompletion, request, timeout)

    def stream_chat_completion(
        self, model_id: str, messages: Any, *, timeout: float | None = None, **params: Any
    ) -> AsyncIterator[inference_pb2.StreamChatCompletionResponse]:
        """Use with `async for` (no await)."""
        request = build.stream_chat_completion_request(model_id, messages, **params)
        return self._transport.stream(self._stub.StreamChatCompletion, request, timeout)

    async def completion(
        self, model_id: str, content: ContentLike, *, timeout: float | None = None, **params: Any
    ) -> inference_pb2.CompletionResponse:
        request = build.completion_request(model_id, content, **params)
        return await self._transport.unary(self._stub.Completion, request, timeout)

    def stream_completion(
        self, model_id: str, content: ContentLike, *, timeout: float | None = None, **params: Any
    ) -> AsyncIterator[inference_pb2.StreamCompletionResponse]:
        """Use with `async for` (no await)."""
        request = build.stream_completion_request(model_id, content, **params)
        return self._transport.stream(self._stub.StreamCompletion, request, timeout)

    async def embeddings(
        self,
        model_id: str,
        contents: str | Sequence[str],
        output_dimension: int | None = None,
        *,
        task_type: str | None = None,
        text_truncation: str | None = None,
        timeout: float | None = None,
    ) -> list[list[float]]:
        request = build.embeddings_request(
            model_id, contents, output_dimension=output_dimension, task_type=task_type, text_truncation=text_truncation
        )
        return _vectors(await self._transport.unary(self._stub.Embeddings, request, timeout))

    async def batch_chat_completion(
        self, model_id: str, conversations: Iterable[Any], *, timeout: float | None = None, **params: Any
    ) -> inference_pb2.BatchChatCompletionResponse:
        request = build.batch_chat_completion_request(model_id, conversations, **params)
        return await self._transport.unary(self._stub.BatchChatCompletion, request, timeout)

    async def engine_status(
        self, model_id: str, *, timeout: float | None = None
    ) -> inference_pb2.GetEngineStatusResponse:
        request = inference_pb2.GetEngineStatusRequest(model_id=model_id)
        return await self._transport.unary(self._stub.GetEngineStatus, request, timeout)
