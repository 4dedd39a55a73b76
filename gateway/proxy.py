"""Forward every API RPC to the service that serves it, as unparsed bytes.

Only the routing key is read from a request (see routing_key.py). The gateway passes on the caller's metadata, the
resolved resource (RESOURCE_HEADER) and the time left before the caller's deadline (gateway.default_forward_timeout_s
when the caller set none, so no forwarded call waits forever); errors from the service come back
unchanged, except that a service nobody answers for becomes UNAVAILABLE naming that service.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import AsyncIterator

import grpc
from opentelemetry import trace

from gateway.api_catalog import MethodRoute, forwarded_routes
from gateway.auth import caller_headers
from gateway.backends import Backends
from gateway.router import Router, Target
from llama_mesh.resources import resource_metadata
from llama_mesh.runtime.channels import remaining_timeout
from llama_mesh.runtime.errors import Unavailable, answered_by_service, error_info
from llama_mesh.runtime.span_status import record_failure
from llama_mesh.runtime.trace_context import trace_headers

log = logging.getLogger(__name__)

# Headers that belong to one hop and are not passed on; the caller's token is the gateway's alone.
_HOP_HEADERS = frozenset(
    {"user-agent", "content-type", "te", "grpc-timeout", "traceparent", "tracestate", "authorization"}
)


def _outgoing_metadata(context: grpc.aio.ServicerContext, target: Target) -> list[tuple[str, str | bytes]]:
    metadata = [
        (key, value)
        for key, value in context.invocation_metadata() or ()
        if key not in _HOP_HEADERS and not key.startswith((":", "grpc-", "llama-mesh-"))
    ]
    if target.resource is not None:
        metadata.append(resource_metadata(target.resource))
    metadata.extend(trace_headers())  # the service's span of the call is a child of the gateway's
    metadata.extend(caller_headers())  # the service's calls through the gateway act for this caller
    return metadata


def _record_route(target: Target) -> None:
    """Name, on this call's trace span, the service the call goes to and the resource it was routed by."""
    span = trace.get_current_span()
    span.set_attribute("target_service", target.service)
    if target.resource is not None:
        span.set_attribute("resource_id", target.resource.identifier)  # type: ignore[attr-defined]


async def _reraise(error: grpc.aio.AioRpcError, target: Target, context: grpc.aio.ServicerContext) -> None:
    """Pass a service's error on as it is; a transport failure becomes UNAVAILABLE naming the service."""
    if error.code() == grpc.StatusCode.UNAVAILABLE and not answered_by_service(error):
        # The caller learns which service; where it runs (and gRPC's connection details) go to the log only.
        log.warning("the %s service at %s is not reachable: %s", target.service, target.address, error.details())
        raise Unavailable(
            f"the {target.service} service is not reachable (is it running?)",
            reason="SERVICE_UNAVAILABLE",
            service=target.service,
        ) from error
    info = error_info(error)
    record_failure(f"{error.code().name}: {error.details()}", info.reason if info else error.code().name, error.code())
    await context.abort(error.code(), error.details() or "", tuple(error.trailing_metadata() or ()))


class GatewayProxy:
    def __init__(self, router: Router, backends: Backends, default_timeout: float | None = None) -> None:
        self._router = router
        self._backends = backends
        self._default_timeout = default_timeout  # for calls whose caller set no deadline

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        by_service: dict[str, dict[str, grpc.RpcMethodHandler]] = defaultdict(dict)
        for route in forwarded_routes().values():
            method_name = route.full_method.rsplit("/", 1)[-1]
            by_service[route.service_full_name][method_name] = self._handler(route)
        return [grpc.method_handlers_generic_handler(name, methods) for name, methods in by_service.items()]

    def service_names(self) -> list[str]:
        return sorted({route.service_full_name for route in forwarded_routes().values()})

    def _handler(self, route: MethodRoute) -> grpc.RpcMethodHandler:
        if route.client_streaming and route.server_streaming:
            return grpc.stream_stream_rpc_method_handler(self._stream_stream(route))
        if route.client_streaming:
            return grpc.stream_unary_rpc_method_handler(self._stream_unary(route))
        if route.server_streaming:
            return grpc.unary_stream_rpc_method_handler(self._unary_stream(route))
        return grpc.unary_unary_rpc_method_handler(self._unary_unary(route))

    def _unary_unary(self, route: MethodRoute):  # noqa: ANN202 - a gRPC behavior
        async def forward(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            target = await self._router.resolve(route, request)
            _record_route(target)
            call = self._backends.channel(target.address).unary_unary(route.full_method)(
                request,
                metadata=_outgoing_metadata(context, target),
                timeout=remaining_timeout(context, self._default_timeout),
            )
            try:
                return await call
            except grpc.aio.AioRpcError as error:
                await _reraise(error, target, context)
                raise

        return forward

    def _unary_stream(self, route: MethodRoute):  # noqa: ANN202
        async def forward(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
            target = await self._router.resolve(route, request)
            _record_route(target)
            call = self._backends.channel(target.address).unary_stream(route.full_method)(
                request,
                metadata=_outgoing_metadata(context, target),
                timeout=remaining_timeout(context, self._default_timeout),
            )
            try:
                async for response in call:
                    yield response
            except grpc.aio.AioRpcError as error:
                await _reraise(error, target, context)
                raise
            finally:
                call.cancel()  # no-op once finished; stops the service's work when our caller went away

        return forward

    def _stream_unary(self, route: MethodRoute):  # noqa: ANN202
        async def forward(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
            first, rest = await _peek(requests)
            target = await self._router.resolve(route, first or b"")
            _record_route(target)
            call = self._backends.channel(target.address).stream_unary(route.full_method)(
                rest,
                metadata=_outgoing_metadata(context, target),
                timeout=remaining_timeout(context, self._default_timeout),
            )
            try:
                return await call
            except grpc.aio.AioRpcError as error:
                await _reraise(error, target, context)
                raise

        return forward

    def _stream_stream(self, route: MethodRoute):  # noqa: ANN202
        async def forward(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
            first, rest = await _peek(requests)
            target = await self._router.resolve(route, first or b"")
            _record_route(target)
            call = self._backends.channel(target.address).stream_stream(route.full_method)(
                rest,
                metadata=_outgoing_metadata(context, target),
                timeout=remaining_timeout(context, self._default_timeout),
            )
            try:
                async for response in call:
                    yield response
            except grpc.aio.AioRpcError as error:
                await _reraise(error, target, context)
                raise
            finally:
                call.cancel()

        return forward


async def _peek(requests: AsyncIterator[bytes]) -> tuple[bytes | None, AsyncIterator[bytes]]:
    """The first request of a client stream (to route on) and an iterator that still yields it."""
    iterator = requests.__aiter__()
    try:
        first = await iterator.__anext__()
    except StopAsyncIteration:
        return None, _empty()

    async def chained() -> AsyncIterator[bytes]:
        yield first
        async for item in iterator:
            yield item

    return first, chained()


async def _empty() -> AsyncIterator[bytes]:
    return
    yield  # makes this an (empty) async generator
