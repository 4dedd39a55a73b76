"""The one exception the client raises, built from a failed gRPC call or from an error event inside a stream.

Every failure becomes a `LlamaMeshError` (or the subclass for its status code) that carries the gRPC status code, the
server's message and, when the mesh sent a `google.rpc.ErrorInfo`, its stable `reason` and `metadata`, so callers can
branch on `error.reason` (e.g. "MODEL_NOT_FOUND") instead of parsing messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc

from llama_mesh.runtime.errors import error_info

_CODE_BY_NUMBER: dict[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}
# Words gRPC itself uses when the channel could not reach the server at all (no server sent the status).
_TRANSPORT_FAILURE_WORDS = (
    "failed to connect",
    "connection refused",
    "dns resolution",
    "name resolution",
    "unreachable",
    "handshake",
    "connection reset",
    "socket closed",
    "no route",
)


class LlamaMeshError(Exception):
    """A failed call: `code` (grpc.StatusCode), `message`, and the ErrorInfo `reason` / `metadata` ("" / {} if none)."""

    def __init__(
        self, code: grpc.StatusCode, message: str, reason: str = "", metadata: Mapping[str, str] | None = None
    ) -> None:
        self.code = code
        self.message = message
        self.reason = reason
        self.metadata: dict[str, str] = dict(metadata or {})
        super().__init__(code, message, reason, self.metadata)  # all of them, so that the error pickles

    @property
    def code_name(self) -> str:
        """The status code's name, e.g. "NOT_FOUND"."""
        return self.code.name

    def __str__(self) -> str:
        text = f"{self.code.name}: {self.message}"
        return f"{text} [{self.reason}]" if self.reason and self.reason != self.code.name else text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code.name}, {self.message!r}, reason={self.reason!r})"


class InvalidArgumentError(LlamaMeshError):
    """INVALID_ARGUMENT: the request is wrong; `metadata["field"]` usually names the field."""


class NotFoundError(LlamaMeshError):
    """NOT_FOUND: an unknown resource, provider or job."""


class AlreadyExistsError(LlamaMeshError):
    """ALREADY_EXISTS: e.g. a taken identifier."""


class FailedPreconditionError(LlamaMeshError):
    """FAILED_PRECONDITION: the system is not in a state to run the call (e.g. a model of the wrong type)."""


class UnavailableError(LlamaMeshError):
    """UNAVAILABLE: a service of the mesh does not answer; retrying later may work."""


class GatewayUnreachableError(UnavailableError):
    """UNAVAILABLE before any server answered: nothing serves at `address` (the gateway is not running there)."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        reason: str = "",
        metadata: Mapping[str, str] | None = None,
        *,
        address: str = "",
    ) -> None:
        super().__init__(code, message, reason, metadata)
        self.address = address


class DeadlineExceededError(LlamaMeshError):
    """DEADLINE_EXCEEDED: the call ran past its timeout."""


class ResourceExhaustedError(LlamaMeshError):
    """RESOURCE_EXHAUSTED: e.g. a full queue or a message too large."""


class CallCancelledError(LlamaMeshError):
    """CANCELLED: the call was cancelled (named so as not to clash with asyncio.CancelledError)."""


class UnimplementedError(LlamaMeshError):
    """UNIMPLEMENTED: the provider or the mesh does not support this call."""


class InternalError(LlamaMeshError):
    """INTERNAL: a bug or unexpected failure on the server side."""


_CLASS_BY_CODE: dict[grpc.StatusCode, type[LlamaMeshError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.CANCELLED: CallCancelledError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
    grpc.StatusCode.INTERNAL: InternalError,
}


def make_error(
    code: grpc.StatusCode, message: str, reason: str = "", metadata: Mapping[str, str] | None = None
) -> LlamaMeshError:
    """The LlamaMeshError subclass matching `code`."""
    return _CLASS_BY_CODE.get(code, LlamaMeshError)(code, message, reason, metadata)


def status_code(number: int) -> grpc.StatusCode:
    """The grpc.StatusCode of a google.rpc.Code number (UNKNOWN for numbers gRPC does not know)."""
    return _CODE_BY_NUMBER.get(number, grpc.StatusCode.UNKNOWN)


def is_transport_failure(code: grpc.StatusCode, message: str, reason: str) -> bool:
    """Whether an UNAVAILABLE status came from the client's own channel (nothing answered) rather than a server."""
    if code != grpc.StatusCode.UNAVAILABLE or reason:
        return False
    lowered = message.lower()
    return any(word in lowered for word in _TRANSPORT_FAILURE_WORDS)


def from_rpc_error(error: grpc.RpcError, address: str = "") -> LlamaMeshError:
    """The LlamaMeshError for a failed call (sync `grpc.RpcError` or `grpc.aio.AioRpcError`)."""
    code_of = getattr(error, "code", None)
    details_of = getattr(error, "details", None)
    code = code_of() if callable(code_of) else grpc.StatusCode.UNKNOWN
    message = (details_of() if callable(details_of) else None) or str(error) or code.name
    try:
        info = error_info(error)
    except (ValueError, AttributeError, TypeError):  # a status whose details do not match, or not a call at all
        info = None
    reason = info.reason if info is not None else ""
    metadata: dict[str, str] = dict(info.metadata) if info is not None else {}
    if is_transport_failure(code, message, reason):
        return GatewayUnreachableError(code, message, reason, metadata, address=address)
    return make_error(code, message, reason, metadata)


def from_stream_error(stream_error: Any) -> LlamaMeshError:
    """The LlamaMeshError for a `StreamError` message (an error event of a stream or a failed batch item)."""
    return make_error(status_code(stream_error.code), stream_error.message, stream_error.reason)


def raise_for_stream_error(event: Any) -> None:
    """Raise the event's error when a stream event (a message with an `event` oneof) is an `error` event."""
    if event.WhichOneof("event") == "error":
        raise from_stream_error(event.error)
