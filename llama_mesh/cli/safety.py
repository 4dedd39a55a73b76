"""`llama-mesh safety check`: run a shield over a message and say whether it passes."""

from __future__ import annotations

import click

from llama.common.v1 import content_pb2, messages_pb2, safety_violation_pb2
from llama_mesh.cli.output import print_json, stdout
from llama_mesh.cli.state import get_state, json_option

ROLES = {"user": messages_pb2.ROLE_USER, "assistant": messages_pb2.ROLE_ASSISTANT}


@click.group(help="Shields over conversations.")
def safety() -> None:
    pass


@safety.command(help="Run shield SHIELD_ID over MESSAGE; exits 1 when it reports an error-level violation.")
@click.argument("shield_id")
@click.argument("message")
@click.option("--role", type=click.Choice(list(ROLES)), default="user", show_default=True)
@json_option
def check(shield_id: str, message: str, role: str) -> None:
    state = get_state()
    reply = state.client().safety.run_shield(
        shield_id, messages_pb2.Message(role=ROLES[role], content=content_pb2.Content(text=message))
    )
    if state.json:
        print_json(reply)
    elif not reply.HasField("violation"):
        stdout.print(f"[green]passed[/green]: shield {shield_id} found no violation")
    else:
        violation = reply.violation
        level = safety_violation_pb2.ViolationLevel.Name(violation.violation_level).removeprefix("VIOLATION_LEVEL_")
        stdout.print(f"[red]{level.lower()}[/red]: {violation.user_message}")
        for key, value in violation.metadata.items():
            stdout.print(f"  {key}: {value}", style="dim", markup=False)
    if reply.HasField("violation") and reply.violation.violation_level == safety_violation_pb2.VIOLATION_LEVEL_ERROR:
        raise SystemExit(1)
