"""The `llama-mesh` entry point: global options and the command tree.

llama-mesh models list
llama-mesh chat -m smollm2-135m-instruct "Why is the sky blue?"
llama-mesh --gateway 10.0.0.5:50051 --json inspect health
llama-mesh traces show 4bf92f3577b34da6a3ce929d0e0e4736
"""

from __future__ import annotations

import click

from llama_mesh.cli.agents import agent_group
from llama_mesh.cli.chat import chat
from llama_mesh.cli.completion import completion
from llama_mesh.cli.datasets import extend_datasets_group
from llama_mesh.cli.embeddings import embeddings
from llama_mesh.cli.eval import eval_group
from llama_mesh.cli.failures import MeshGroup
from llama_mesh.cli.inspection import inspect
from llama_mesh.cli.post_training import post_training_group
from llama_mesh.cli.rag import rag
from llama_mesh.cli.resources import RESOURCE_GROUPS
from llama_mesh.cli.safety import safety
from llama_mesh.cli.scoring import scoring
from llama_mesh.cli.sdg import sdg
from llama_mesh.cli.state import GATEWAY_ENV, SERVER_ADDRESS_ENV, TLS_CA_ENV, TOKEN_ENV, CliState, default_gateway
from llama_mesh.cli.traces import traces


@click.group(cls=MeshGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--gateway",
    metavar="ADDR",
    default=default_gateway,
    help="The gateway's host:port.",
    show_default=f"${GATEWAY_ENV}, ${SERVER_ADDRESS_ENV} or 127.0.0.1:50051",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Deadline of each call (default: none).",
)
@click.option("--json", "json_output", is_flag=True, help="Print results as JSON where a command supports it.")
@click.option(
    "--token", envvar=TOKEN_ENV, metavar="TOKEN", show_envvar=True, help="Bearer token for a gateway with auth on."
)
@click.option(
    "--tls-ca",
    "tls_ca",
    envvar=TLS_CA_ENV,
    show_envvar=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Use TLS, trusting this CA certificate (PEM).",
)
@click.version_option(package_name="llama-mesh", prog_name="llama-mesh")
@click.pass_context
def cli(
    ctx: click.Context, gateway: str, timeout: float | None, json_output: bool, token: str | None, tls_ca: str | None
) -> None:
    """Use the Llama Stack APIs served by a llama-mesh gateway."""
    ctx.obj = CliState(gateway=gateway, timeout=timeout, json=json_output, token=token, tls_ca=tls_ca)


for _group in RESOURCE_GROUPS:
    if _group.name == "datasets":
        extend_datasets_group(_group)
    cli.add_command(_group)
for _command in (agent_group, chat, completion, embeddings, eval_group, inspect, rag, safety, scoring, sdg, traces):
    cli.add_command(_command)
cli.add_command(post_training_group)


if __name__ == "__main__":
    cli()
