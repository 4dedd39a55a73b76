"""One place that turns failures into gRPC statuses with `google.rpc.ErrorInfo` details (AIP-193).

Handlers raise a `MeshError` subclass; the error interceptor (see `interceptors.py`) aborts the call with the matching
status code, a message a person can act on, and an ErrorInfo whose `reason` a client in any language can branch on.
Anything else becomes INTERNAL with a generic message; the traceback goes to the log, never to the client.
"""

from __future__ import annotations

import logging
import re

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "llama-mesh"
log = logging.getLogger(__name__)
# An absolute file path (not the path of a URL: no scheme, host or word just before it).
_ABSOLUTE_PATH = re.compile(r"(?<![\w:/.~-])(?:/[^\s'\"/:,;()\[\]{}<>]+)+")


def without_paths(text: str) -> str:
    """`text` with every absolute file path in it cut to its last part (`/srv/mesh/data/rows.parquet` ->
    `rows.parquet`): for the text of a library's exception that goes into a message to a caller, which must name no
    directory of the server. Logs keep the whole text."""
    return _ABSOLUTE_PATH.sub(lambda match: match.group(0).rsplit("/", 1)[1], text)


class MeshError(Exception):
    """An error that maps to a gRPC status code."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    default_reason = "INTERNAL"

    def __init__(self, message: str, *, reason: str | None = None, **metadata: object) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata = {key: str(value) for key, value in metadata.items() if value is not None}

    def to_status(self) -> grpc.Status:
        info = error_details_pb2.ErrorInfo(reason=self.reason, domain=ERROR_DOMAIN, metadata=self.metadata)
        detail = any_pb2.Any()
        detail.Pack(info)
        status = status_pb2.Status(code=self.code.value[0], message=self.message, details=[detail])
        return rpc_status.to_status(status)


class InvalidArgument(MeshError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"

    def __init__(self, field: str, message: str, *, reason: str | None = None, **metadata: object) -> None:
        super().__init__(f"{field}: {message}", reason=reason, field=field, **metadata)
        self.field = field


class NotFound(MeshError):
    code = grpc.StatusCode.NOT_FOUND
    default_reason = "NOT_FOUND"


class AlreadyExists(MeshError):
    code = grpc.StatusCode.ALREADY_EXISTS
    default_reason = "ALREADY_EXISTS"


class FailedPrecondition(MeshError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class Unavailable(MeshError):
    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "UNAVAILABLE"


class DeadlineExceeded(MeshError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED
    default_reason = "DEADLINE_EXCEEDED"


class ResourceExhausted(MeshError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = "RESOURCE_EXHAUSTED"


class Cancelled(MeshError):
    code = grpc.StatusCode.CANCELLED
    default_reason = "CANCELLED"


class Unauthenticated(MeshError):
    code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class PermissionDenied(MeshError):
    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"


class Internal(MeshError):
    code = grpc.StatusCode.INTERNAL
    default_reason = "INTERNAL"


class Unimplemented(MeshError):
    code = grpc.StatusCode.UNIMPLEMENTED
    default_reason = "UNIMPLEMENTED"


class RemoteError(MeshError):
    """An error another service answered, passed on with its status code, message and ErrorInfo."""

    def __init__(self, error: grpc.aio.AioRpcError) -> None:
        info = error_info(error)
        message = error.details() or error.code().name
        if error.code() == grpc.StatusCode.UNAVAILABLE and not answered_by_service(error):
            # gRPC's own text names the address it could not reach: the log has it, the caller gets what failed
            log.warning("a call through the mesh failed: %s", message)
            message = "the mesh's gateway is not reachable from this service (UNAVAILABLE); its log has the details"
        super().__init__(
            message,
            reason=info.reason if info else error.code().name,
            **(dict(info.metadata) if info else {}),
        )
        self.code = error.code()


def answered_by_service(error: grpc.aio.AioRpcError) -> bool:
    """Whether a failed call's status was sent by the service (with status details), as opposed to a transport
    failure (nothing listening, connection lost) that gRPC reports on its own."""
    return any(key == "grpc-status-details-bin" for key, _ in error.trailing_metadata() or ())


def error_info(error: grpc.aio.AioRpcError | grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo detail of a failed call, if the server sent one."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return None


def status_code_number(code: grpc.StatusCode) -> int:
    """The google.rpc.Code number of a grpc.StatusCode (for errors carried inside a stream)."""
    return int(code.value[0])


OK_CODE = code_pb2.OK
