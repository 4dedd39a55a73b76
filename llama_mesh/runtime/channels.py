"""Outgoing gRPC channels: raised message limits, tracing, and deadlines passed on from the incoming call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc

from llama_mesh.runtime.caller import CALLER_HEADER, on_behalf_of
from llama_mesh.runtime.transport_security import process_security

MAX_MESSAGE_BYTES = 64 * 1024 * 1024

CHANNEL_OPTIONS: list[tuple[str, int | str]] = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_permit_without_calls", 1),
    # Servers accept those pings during long quiet calls (an agent turn, a scored dataset) instead of answering
    # "too many pings" with GOAWAY; clients ignore these two.
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 20_000),
    ("grpc.http2.max_ping_strikes", 0),
    # A restarted backend is reached again within about a second (gRPC's default backoff grows to two minutes).
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.min_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 1_000),
]

# Outgoing channels spread calls over every address a target resolves to (a Kubernetes headless Service gives one
# per pod, `dns:///inference:50061`) instead of pinning all of them to the first.
CLIENT_CHANNEL_OPTIONS: list[tuple[str, int | str]] = [*CHANNEL_OPTIONS, ("grpc.lb_policy_name", "round_robin")]


Headers = tuple[tuple[str, str], ...]


class _CallMetadata:
    """Adds this process's proof of identity (the mesh secret) to every call of a channel, on channels to the
    gateway with auth on `authorization: Bearer <token>` and the caller the served call acts for, and with tracing on
    the `traceparent` of the current span (no span of its own: the gateway's span of the call is the next hop)."""

    def __init__(self, headers: Headers, token: str, trace_headers: Callable[[], Headers] | None) -> None:
        self._headers = (*headers, ("authorization", f"Bearer {token}")) if token else headers
        self._for_caller = bool(token)
        self._trace_headers = trace_headers

    def added_to(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        for header in self._headers:
            metadata.add(*header)
        caller = on_behalf_of() if self._for_caller else ""
        if caller:
            metadata.add(CALLER_HEADER, caller)
        if self._trace_headers is not None:
            for header in self._trace_headers():
                metadata.add(*header)
        return details._replace(metadata=metadata)

    def interceptors(self) -> list[grpc.aio.ClientInterceptor]:
        """One interceptor per kind of call: a grpc.aio channel files each interceptor under the first kind it
        implements only, so one object implementing all four would see unary calls alone."""
        return [_UnaryUnary(self), _UnaryStream(self), _StreamUnary(self), _StreamStream(self)]


class _UnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, metadata: _CallMetadata) -> None:
        self._metadata = metadata

    async def intercept_unary_unary(self, continuation, details, request):  # noqa: ANN001, ANN202 - gRPC interceptor API
        return await continuation(self._metadata.added_to(details), request)


class _UnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, metadata: _CallMetadata) -> None:
        self._metadata = metadata

    async def intercept_unary_stream(self, continuation, details, request):  # noqa: ANN001, ANN202 - gRPC interceptor API
        return await continuation(self._metadata.added_to(details), request)


class _StreamUnary(grpc.aio.StreamUnaryClientInterceptor):
    def __init__(self, metadata: _CallMetadata) -> None:
        self._metadata = metadata

    async def intercept_stream_unary(self, continuation, details, request_iterator):  # noqa: ANN001, ANN202 - gRPC interceptor API
        return await continuation(self._metadata.added_to(details), request_iterator)


class _StreamStream(grpc.aio.StreamStreamClientInterceptor):
    def __init__(self, metadata: _CallMetadata) -> None:
        self._metadata = metadata

    async def intercept_stream_stream(self, continuation, details, request_iterator):  # noqa: ANN001, ANN202 - gRPC interceptor API
        return await continuation(self._metadata.added_to(details), request_iterator)


def open_channel(address: str, *, traced: bool = True) -> grpc.aio.Channel:
    """A channel to the gateway or another service of the mesh, secured as this process was configured
    (transport_security.configure): TLS / mTLS where the distribution asks for it, the service token on calls to
    the gateway when auth is on (on the gateway's mTLS mesh port where it has one), and with tracing on (and
    `traced`) the current span's trace context. Every channel a service opens comes from here."""
    from llama_mesh.runtime.trace_context import trace_headers  # OpenTelemetry is heavy; clients need not load it
    from llama_mesh.runtime.tracing import tracing_enabled

    security = process_security()
    address = security.target(address)
    traced = traced and tracing_enabled()
    token = security.token_for(address)
    headers = security.peer_metadata_for(address)
    interceptors: list[grpc.aio.ClientInterceptor] = []
    if token or headers or traced:
        interceptors = _CallMetadata(headers, token, trace_headers if traced else None).interceptors()
    credentials = security.channel_credentials(address)
    if credentials is not None:
        return grpc.aio.secure_channel(
            address, credentials, options=CLIENT_CHANNEL_OPTIONS, interceptors=interceptors or None
        )
    return grpc.aio.insecure_channel(address, options=CLIENT_CHANNEL_OPTIONS, interceptors=interceptors or None)


def remaining_timeout(context: grpc.aio.ServicerContext | None, default: float | None = None) -> float | None:
    """The time left of the incoming call, to use as the timeout of a call made on its behalf."""
    if context is None:
        return default
    remaining = context.time_remaining()
    if remaining is None:
        return default
    return max(remaining, 0.0)


# How long calls in flight on a channel opened with mesh certificates since renewed may still take.
RETIRED_CHANNEL_GRACE_S = 600.0


class LazyChannel:
    """An `open_channel` to one address, opened on first use (inside the running event loop, where grpc.aio wants
    it), opened again when this process's mesh certificates are renewed (the old one closes once its calls are done,
    or after RETIRED_CHANNEL_GRACE_S), and closed by `close`."""

    def __init__(self, address: str, *, traced: bool = True) -> None:
        self.address = address
        self._traced = traced
        self._channel: grpc.aio.Channel | None = None
        self._generation = 0
        self._retiring: set[asyncio.Task[None]] = set()

    def get(self) -> grpc.aio.Channel:
        generation = process_security().credentials_generation()
        if self._channel is not None and generation != self._generation:
            retiring = asyncio.ensure_future(self._channel.close(RETIRED_CHANNEL_GRACE_S))
            self._retiring.add(retiring)
            retiring.add_done_callback(self._retiring.discard)
            self._channel = None
        if self._channel is None:
            self._channel = open_channel(self.address, traced=self._traced)
            self._generation = generation
        return self._channel

    async def close(self) -> None:
        if self._channel is not None:
            channel, self._channel = self._channel, None
            await channel.close()
        for retiring in list(self._retiring):
            retiring.cancel()
        await asyncio.gather(*self._retiring, return_exceptions=True)
