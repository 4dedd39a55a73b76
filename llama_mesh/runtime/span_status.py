"""How a call ended, on its span (tracing.py starts one per call): the status code, and for a failure the ErrorInfo
reason and message. Without tracing the current span is a no-op span and this costs nothing."""

from __future__ import annotations

import grpc
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

STATUS_CODE_ATTRIBUTE = "rpc.grpc.status_code"


def record_failure(message: str, reason: str, code: grpc.StatusCode | None = None) -> None:
    """Mark the current call's span as failed, with the ErrorInfo reason and the status code it ends with. Every
    error status a server sends goes through here (the error mapping, the gateway's proxy): in the mesh a call that
    failed is what a person looks for in a trace, caller errors (NOT_FOUND, INVALID_ARGUMENT...) included, which
    OpenTelemetry's conventions would leave unset."""
    span = trace.get_current_span()
    span.set_attribute("error.reason", reason)
    if code is not None:
        span.set_attribute(STATUS_CODE_ATTRIBUTE, code.value[0])
    span.set_status(Status(StatusCode.ERROR, message))
