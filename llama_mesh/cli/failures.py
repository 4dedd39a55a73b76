"""How the CLI fails: `error: CODE: message` on stderr and exit status 1, never a traceback for an RPC error."""

from __future__ import annotations

from typing import Any

import click
import grpc

from llama_mesh.cli.output import dim, stderr
from llama_mesh.cli.state import CliState
from llama_mesh.client.errors import GatewayUnreachableError, LlamaMeshError, from_rpc_error


def report(error: LlamaMeshError) -> None:
    """Print a client error: code and message, then its reason and metadata (dim)."""
    if isinstance(error, GatewayUnreachableError):
        stderr.print(
            f"[bold red]error:[/] UNAVAILABLE: the gateway at {error.address or 'the given address'} is not "
            "reachable. Is the mesh running? Start it with `make up`, or point --gateway / "
            "LLAMA_MESH_GATEWAY at it.",
            highlight=False,
        )
        dim(f"  {error.message}")
        return
    stderr.print(f"[bold red]error:[/] {error.code.name}: ", end="", highlight=False)
    stderr.print(error.message, markup=False, highlight=False)
    details = [f"reason: {error.reason}"] if error.reason else []
    details += [f"{key}: {value}" for key, value in sorted(error.metadata.items())]
    if details:
        dim("  " + "; ".join(details))


def usage_error(message: str) -> None:
    stderr.print("[bold red]error:[/] ", end="", highlight=False)
    stderr.print(message, markup=False, highlight=False)


class MeshGroup(click.Group):
    """The root group: turns client errors, bad arguments and Ctrl-C into one line and an exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LlamaMeshError as error:
            report(error)
        except grpc.RpcError as error:  # a stub used directly; map it the same way
            state = ctx.find_object(CliState)
            report(from_rpc_error(error, state.gateway if state else ""))
        except ValueError as error:  # request building refused a value before sending (e.g. a negative temperature)
            usage_error(str(error))
        except KeyboardInterrupt:
            stderr.print()
            ctx.exit(130)
        ctx.exit(1)
