"""Server interceptor that maps every failure of a handler to a proper gRPC status (see errors.py), bytes that are not
the request message included (INVALID_ARGUMENT, where grpc would answer UNKNOWN "Unexpected DecodeError")."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from llama_mesh.runtime.errors import Internal, InvalidArgument, MeshError
from llama_mesh.runtime.span_status import record_failure

log = logging.getLogger(__name__)


async def _abort(context: grpc.aio.ServicerContext, error: MeshError) -> None:
    record_failure(f"{error.code.name}: {error.message}", error.reason, error.code)
    status = error.to_status()
    await context.abort(status.code, status.details, status.trailing_metadata)


async def _handle_failure(context: grpc.aio.ServicerContext, method: str, exc: BaseException) -> None:
    if isinstance(exc, MeshError):
        await _abort(context, exc)
    log.exception("unexpected error in %s", method, exc_info=exc)
    await _abort(context, Internal(f"internal error in {method}; the server log has the details"))


class _Undecodable:
    """What a request that could not be parsed deserializes to; the handler raises INVALID_ARGUMENT for it."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _tolerant(deserializer: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except (DecodeError, ValueError) as exc:  # protobuf's C and Python parsers raise these
            return _Undecodable(exc)

    return deserialize


def _undecodable(method: str, request: _Undecodable) -> InvalidArgument:
    return InvalidArgument(
        "request",
        f"the bytes sent to {method} are not its request message: {request.error}",
        reason="MALFORMED_REQUEST",
    )


async def _checked_stream(requests: AsyncIterator[Any], method: str) -> AsyncIterator[Any]:
    async for request in requests:
        if isinstance(request, _Undecodable):
            raise _undecodable(method, request)
        yield request


def _checked(request_or_iterator: Any, method: str) -> Any:
    """The request, or a request iterator that raises INVALID_ARGUMENT at a message that did not parse."""
    if isinstance(request_or_iterator, _Undecodable):
        raise _undecodable(method, request_or_iterator)
    if hasattr(request_or_iterator, "__aiter__"):
        return _checked_stream(request_or_iterator, method)
    return request_or_iterator


def _wrap_unary(behavior: Callable[..., Awaitable[Any]], method: str) -> Callable[..., Awaitable[Any]]:
    async def wrapped(request_or_iterator: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await behavior(_checked(request_or_iterator, method), context)
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception as exc:  # noqa: BLE001 - this is the one place that maps every error
            await _handle_failure(context, method, exc)

    return wrapped


def _wrap_stream(behavior: Callable[..., AsyncIterator[Any]], method: str) -> Callable[..., AsyncIterator[Any]]:
    async def wrapped(request_or_iterator: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        try:
            async for response in behavior(_checked(request_or_iterator, method), context):
                yield response
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception as exc:  # noqa: BLE001
            await _handle_failure(context, method, exc)

    return wrapped


UnaryWrapper = Callable[[Callable[..., Awaitable[Any]], str], Callable[..., Awaitable[Any]]]
StreamWrapper = Callable[[Callable[..., AsyncIterator[Any]], str], Callable[..., AsyncIterator[Any]]]


def wrap_handler(
    handler: grpc.RpcMethodHandler, method: str, wrap_unary: UnaryWrapper, wrap_stream: StreamWrapper
) -> grpc.RpcMethodHandler:
    """The handler with its behavior wrapped: `wrap_unary` for unary responses, `wrap_stream` for streamed ones."""
    if handler.unary_unary:
        return handler._replace(unary_unary=wrap_unary(handler.unary_unary, method))
    if handler.stream_unary:
        return handler._replace(stream_unary=wrap_unary(handler.stream_unary, method))
    if handler.unary_stream:
        return handler._replace(unary_stream=wrap_stream(handler.unary_stream, method))
    if handler.stream_stream:
        return handler._replace(stream_stream=wrap_stream(handler.stream_stream, method))
    return handler


class WrappingInterceptor(grpc.aio.ServerInterceptor):
    """A server interceptor that wraps the behavior of each handler it `applies_to`: `wrap_unary` for unary
    responses, `wrap_stream` for streamed ones (both take the behavior and the full method name)."""

    wrap_unary: UnaryWrapper
    wrap_stream: StreamWrapper

    def applies_to(self, method: str) -> bool:
        return True

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not self.applies_to(method):
            return handler
        return wrap_handler(handler, method, self.wrap_unary, self.wrap_stream)


_NOTHING_AFTER = nullcontext()


class ScopedCallInterceptor(WrappingInterceptor):
    """Runs each call it applies to inside `scope(method, context)`: a context manager entered in the call's own task
    (context variables it sets are seen by the handler and the calls it makes) and exited, with the exception if
    any, when the handler returns or its stream ends."""

    def scope(self, method: str, context: grpc.aio.ServicerContext) -> AbstractContextManager[None]:
        raise NotImplementedError

    def wrap_unary(self, behavior: Callable[..., Awaitable[Any]], method: str) -> Callable[..., Awaitable[Any]]:
        async def scoped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            with self.scope(method, context):
                return await behavior(request, context)

        return scoped

    def wrap_stream(
        self, behavior: Callable[..., AsyncIterator[Any]], method: str
    ) -> Callable[..., AsyncIterator[Any]]:
        async def scoped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            with self.scope(method, context):
                async for response in behavior(request, context):
                    yield response

        return scoped


class BeforeCallInterceptor(ScopedCallInterceptor):
    """Runs `before(context)` at the start of each call it applies to, in the call's own task (so context variables
    it sets are seen by the handler and by the calls the handler makes)."""

    def before(self, context: grpc.aio.ServicerContext) -> None:
        raise NotImplementedError

    def before_method(self, context: grpc.aio.ServicerContext, method: str) -> None:
        """`before`, for interceptors that need the full method name too."""
        self.before(context)

    def scope(self, method: str, context: grpc.aio.ServicerContext) -> AbstractContextManager[None]:
        self.before_method(context, method)
        return _NOTHING_AFTER


class ErrorMappingInterceptor(WrappingInterceptor):
    wrap_unary = staticmethod(_wrap_unary)
    wrap_stream = staticmethod(_wrap_stream)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await super().intercept_service(continuation, handler_call_details)
        if handler is None or handler.request_deserializer is None:
            return handler
        return handler._replace(request_deserializer=_tolerant(handler.request_deserializer))
