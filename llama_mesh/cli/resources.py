"""`llama-mesh models|shields|vector-dbs|... list|get|register|unregister`: one generic group for every kind."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from google.protobuf.message import Message

from llama.common.v1 import resources_pb2 as res
from llama_mesh.cli.output import compact_json, print_json, stdout, table
from llama_mesh.cli.state import get_state, json_option
from llama_mesh.client.conversions import enum_short_name, to_dict
from llama_mesh.client.resources import Resources
from llama_mesh.resources import KINDS, ResourceKind

_COMMON_FIELDS = ("identifier", "provider_id", "provider_resource_id")


def json_object(value: str | None, option: str) -> dict[str, Any] | None:
    """A JSON object given on the command line (None when not given)."""
    if value is None:
        return None
    try:
        data = json.loads(value)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not valid JSON: {error}", param_hint=option) from None
    if not isinstance(data, dict):
        raise click.BadParameter("must be a JSON object", param_hint=option)
    return data


def _collection(kind: ResourceKind) -> Resources[Any]:
    return getattr(get_state().client(), kind.plural)


def _model_type(model: Message) -> str:
    return enum_short_name(res.ModelType, model.model_type, "MODEL_TYPE_")  # type: ignore[attr-defined]


def _details(resource: Message, shown: tuple[str, ...]) -> str:
    return compact_json({key: value for key, value in to_dict(resource).items() if key not in shown})


def _list_rows(kind: ResourceKind, items: list[Message]) -> tuple[list[str], list[list[Any]]]:
    """Table columns and rows: the common fields, a type column for models, the other fields as compact JSON."""
    if kind.name == "model":
        rows = [
            [
                m.identifier,
                _model_type(m),
                m.provider_id,
                m.provider_resource_id,  # type: ignore[attr-defined]
                compact_json(to_dict(m.metadata)),
            ]
            for m in items
        ]  # type: ignore[attr-defined]
        return ["identifier", "type", "provider", "provider resource id", "metadata"], rows
    rows = [
        [r.identifier, r.provider_id, r.provider_resource_id, _details(r, _COMMON_FIELDS)]  # type: ignore[attr-defined]
        for r in items
    ]
    return ["identifier", "provider", "provider resource id", "details"], rows


def _show(resource: Message) -> None:
    if get_state().json:
        print_json(resource)
        return
    table(
        ["field", "value"],
        [[key, value if isinstance(value, str) else compact_json(value)] for key, value in to_dict(resource).items()],
    )


def resource_group(kind: ResourceKind) -> click.Group:
    """The list / get / register / unregister commands of one kind (register takes the other fields as JSON)."""
    label = kind.name.replace("_", " ")

    @click.group(name=kind.plural.replace("_", "-"), help=f"Registered {kind.plural.replace('_', ' ')}.")
    def group() -> None:
        pass

    @group.command(name="list", help=f"List every registered {label}.")
    @json_option
    def list_command() -> None:
        items = _collection(kind).list()
        if get_state().json:
            print_json(items)
            return
        columns, rows = _list_rows(kind, items)
        table(columns, rows)

    @group.command(help=f"Show one {label}.")
    @click.argument("identifier")
    @json_option
    def get(identifier: str) -> None:
        _show(_collection(kind).get(identifier))

    @group.command(help=f"Remove a {label} from the registry.")
    @click.argument("identifier")
    @json_option
    def unregister(identifier: str) -> None:
        removed = _collection(kind).unregister(identifier)
        if get_state().json:
            print_json(removed)
        else:
            stdout.print(f"unregistered {label} {removed.identifier}", markup=False)

    group.add_command(_register_command(kind, label))
    return group


def _registered(kind: ResourceKind, label: str) -> Callable[[Message], None]:
    def done(resource: Message) -> None:
        if get_state().json:
            print_json(resource)
            return
        stdout.print(
            f"registered {label} {resource.identifier} (provider {resource.provider_id}, "  # type: ignore[attr-defined]
            f"provider resource id {resource.provider_resource_id})",
            markup=False,
        )  # type: ignore[attr-defined]

    return done


def _register_command(kind: ResourceKind, label: str) -> click.Command:
    done = _registered(kind, label)
    if kind.name == "model":

        @click.command(help="Register a model served by a provider of the inference API.")
        @click.argument("identifier")
        @click.option("--provider-id", default="", help="The provider serving it (optional with one provider).")
        @click.option("--provider-resource-id", default="", help="The provider's name for it (default: IDENTIFIER).")
        @click.option("--model-type", type=click.Choice(["llm", "embedding"]), default="llm", show_default=True)
        @click.option("--metadata", help="A JSON object, e.g. '{\"embedding_dimension\": 384}'.")
        @json_option
        def register_model(
            identifier: str, provider_id: str, provider_resource_id: str, model_type: str, metadata: str | None
        ) -> None:
            models = get_state().client().models
            done(
                models.register(
                    identifier,
                    provider_id,
                    provider_resource_id,
                    model_type=model_type,
                    metadata=json_object(metadata, "--metadata"),
                )
            )

        register_model.name = "register"
        return register_model

    @click.command(name="register", help=f"Register a {label}; its other fields go in --fields as JSON.")
    @click.argument("identifier")
    @click.option("--provider-id", default="", help="The provider serving it (optional with one provider).")
    @click.option("--provider-resource-id", default="", help="The provider's name for it (default: IDENTIFIER).")
    @click.option("--fields", help=f"A JSON object of the other {kind.message.DESCRIPTOR.name} fields.")
    @json_option
    def register(identifier: str, provider_id: str, provider_resource_id: str, fields: str | None) -> None:
        extra = json_object(fields, "--fields") or {}
        collection = _collection(kind)
        try:
            resource = collection.build(identifier, provider_id, provider_resource_id, **extra)
        except TypeError as error:  # a field the resource does not have
            raise click.BadParameter(str(error), param_hint="--fields") from None
        done(collection.register(resource))

    return register


RESOURCE_GROUPS: tuple[click.Group, ...] = tuple(resource_group(kind) for kind in KINDS)
