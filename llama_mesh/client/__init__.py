"""A typed Python client of the llama-mesh gateway (sync and async), over the generated gRPC stubs.

from llama_mesh.client import LlamaMeshClient, NotFoundError

with LlamaMeshClient() as client:
    try:
        client.models.get("nope")
    except NotFoundError as error:
        print(error.reason, error.metadata)
"""

from llama_mesh.client.agent import Agent, AsyncAgent
from llama_mesh.client.client import AsyncLlamaMeshClient, LlamaMeshClient
from llama_mesh.client.client_tools import ClientTool, client_tool
from llama_mesh.client.errors import (
    AlreadyExistsError,
    CallCancelledError,
    DeadlineExceededError,
    FailedPreconditionError,
    GatewayUnreachableError,
    InternalError,
    InvalidArgumentError,
    LlamaMeshError,
    NotFoundError,
    ResourceExhaustedError,
    UnavailableError,
    UnimplementedError,
    raise_for_stream_error,
)
from llama_mesh.client.event_logger import EventLogger
from llama_mesh.client.transport import DEFAULT_ADDRESS

__all__ = [
    "DEFAULT_ADDRESS",
    "Agent",
    "AlreadyExistsError",
    "AsyncAgent",
    "AsyncLlamaMeshClient",
    "CallCancelledError",
    "ClientTool",
    "DeadlineExceededError",
    "EventLogger",
    "FailedPreconditionError",
    "GatewayUnreachableError",
    "InternalError",
    "InvalidArgumentError",
    "LlamaMeshClient",
    "LlamaMeshError",
    "NotFoundError",
    "ResourceExhaustedError",
    "UnavailableError",
    "UnimplementedError",
    "client_tool",
    "raise_for_stream_error",
]
