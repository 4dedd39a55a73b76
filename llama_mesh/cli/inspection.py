"""`llama-mesh inspect providers|routes|health|version`: what the mesh is made of and whether it is healthy."""

from __future__ import annotations

import click
from rich.text import Text

from llama.inspect.v1 import inspect_pb2
from llama_mesh.cli.output import compact_json, print_json, stdout, table
from llama_mesh.cli.state import get_state, json_option
from llama_mesh.client.conversions import enum_short_name, to_dict

_STATUS_STYLE = {"serving": "green", "not_serving": "red", "unreachable": "red"}


def _status(number: int) -> str:
    return enum_short_name(inspect_pb2.ServingStatus, number, "SERVING_STATUS_") or "unspecified"


def _styled(number: int) -> Text:
    name = _status(number)
    return Text(name, style=_STATUS_STYLE.get(name, "yellow"))


@click.group(help="What the mesh is made of and whether it is healthy.")
def inspect() -> None:
    pass


@inspect.command(help="The providers of the distribution (optionally of one API).")
@click.option("--api", default="", help='Only this API, e.g. "inference".')
@json_option
def providers(api: str) -> None:
    items = get_state().client().inspect.providers(api)
    if get_state().json:
        print_json(items)
        return
    table(
        ["api", "provider", "type", "service", "address", "config"],
        [[p.api, p.provider_id, p.provider_type, p.service, p.address, compact_json(to_dict(p.config))] for p in items],
    )


@inspect.command(help="The RPCs the gateway forwards and where they go.")
@click.option("--api", default="", help='Only this API, e.g. "inference".')
@json_option
def routes(api: str) -> None:
    items = get_state().client().inspect.routes(api)
    if get_state().json:
        print_json(items)
        return
    table(
        ["method", "api", "routed by", "kind", "addresses"],
        [[r.method, r.api, r.routing_field, r.resource_kind, list(r.addresses)] for r in items],
    )


@inspect.command(help="The health of every service; exits with status 1 unless all of them serve.")
@json_option
def health() -> None:
    response = get_state().client().inspect.health()
    if get_state().json:
        print_json(response)
    else:
        stdout.print(Text("mesh: ").append_text(_styled(response.status)))
        table(
            ["service", "api", "address", "status", "message"],
            [[s.service, s.api, s.address, _styled(s.status), s.message] for s in response.services],
        )
    if response.status != inspect_pb2.SERVING_STATUS_SERVING:
        raise click.exceptions.Exit(1)


@inspect.command(help="The mesh's version and distribution.")
@json_option
def version() -> None:
    response = get_state().client().inspect.version()
    if get_state().json:
        print_json(response)
    else:
        stdout.print(f"llama-mesh {response.version} (distribution {response.distribution})", markup=False)
