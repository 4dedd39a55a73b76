"""Calls made with a generated stub on the CLI's channel, failures turned into LlamaMeshError like the client's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from llama_mesh.cli.state import CliState
from llama_mesh.client.errors import from_rpc_error

R = TypeVar("R")


def call(state: CliState, method: Callable[..., R], request: Any) -> R:
    try:
        return method(request, timeout=state.timeout)
    except grpc.RpcError as error:
        raise from_rpc_error(error, state.gateway) from None
