"""What the global options set up for every command: the gateway address, the timeout, JSON output, the client."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click
import grpc

from llama_mesh.client import DEFAULT_ADDRESS, LlamaMeshClient

GATEWAY_ENV = "LLAMA_MESH_GATEWAY"
# What `make up` / the distributions read for the address the gateway listens on; used when GATEWAY_ENV is unset.
SERVER_ADDRESS_ENV = "LLAMA_MESH_GATEWAY_ADDRESS"
TOKEN_ENV = "LLAMA_MESH_TOKEN"
TLS_CA_ENV = "LLAMA_MESH_TLS_CA"

F = TypeVar("F", bound=Callable[..., Any])


def default_gateway() -> str:
    """$LLAMA_MESH_GATEWAY, else $LLAMA_MESH_GATEWAY_ADDRESS, else 127.0.0.1:50051."""
    return os.environ.get(GATEWAY_ENV) or os.environ.get(SERVER_ADDRESS_ENV) or DEFAULT_ADDRESS


@dataclass
class CliState:
    gateway: str = field(default_factory=default_gateway)
    timeout: float | None = None
    json: bool = False
    token: str | None = None
    tls_ca: str | None = None
    _client: LlamaMeshClient | None = None

    def client(self) -> LlamaMeshClient:
        """The client of this invocation, opened on first use and closed when the command ends."""
        if self._client is None:
            credentials = grpc.ssl_channel_credentials(Path(self.tls_ca).read_bytes()) if self.tls_ca else None
            self._client = LlamaMeshClient(self.gateway, self.timeout, token=self.token or "", credentials=credentials)
            click.get_current_context().find_root().call_on_close(self._client.close)
        return self._client


def get_state() -> CliState:
    """The state the root group stored (a default one when a command runs on its own, e.g. in tests)."""
    ctx = click.get_current_context()
    state = ctx.find_object(CliState)
    if state is None:
        state = ctx.ensure_object(CliState)
    return state


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.ensure_object(CliState).json = True
    return value


def json_option(command: F) -> F:
    """A command-level `--json` (the same as the global one, accepted after the command name too)."""
    return click.option(
        "--json", "json_output", is_flag=True, expose_value=False, callback=_set_json, help="Print the result as JSON."
    )(command)
