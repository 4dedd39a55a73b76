"""Registry requests for any resource kind, derived from the kind's table entry in `llama_mesh.resources`.

One `ResourceRequests` per kind knows the RPC names (RegisterModel, ListVectorDBs, ...), the request messages and
their field names, and builds a resource proto from plain keyword values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from llama.registry.v1 import registry_pb2
from llama_mesh.client.conversions import copied
from llama_mesh.resources import ResourceKind

_STRUCT = "google.protobuf.Struct"


def enum_prefix(enum: EnumDescriptor) -> str:
    """The prefix shared by an enum's value names, taken from its zero value (MODEL_TYPE_UNSPECIFIED -> MODEL_TYPE_)."""
    return enum.values_by_number[0].name.removesuffix("UNSPECIFIED")


def _enum_name(enum: EnumDescriptor, value: Any) -> Any:
    """An enum value as ParseDict takes it; short lower-case names ("llm") become full ones ("MODEL_TYPE_LLM")."""
    if not isinstance(value, str):
        return value
    name = value.strip().upper().replace("-", "_")
    full = name if name in enum.values_by_name else enum_prefix(enum) + name
    if full not in enum.values_by_name or full.endswith("_UNSPECIFIED"):
        choices = [v.name.removeprefix(enum_prefix(enum)).lower() for v in enum.values if v.number != 0]
        raise ValueError(f"unknown {enum.name} {value!r}; expected one of: {', '.join(choices)}")
    return full


def normalise_fields(descriptor: Descriptor, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Resource fields as a dict ParseDict reads: enums by short name, nested messages as dicts, all checked."""
    result: dict[str, Any] = {}
    for key, value in fields.items():
        field = descriptor.fields_by_name.get(key)
        if field is None:
            known = ", ".join(f.name for f in descriptor.fields)
            raise TypeError(f"{descriptor.name} has no field {key!r}; its fields are: {known}")
        result[key] = _normalise_value(field, value)
    return result


def _normalise_value(field: FieldDescriptor, value: Any) -> Any:
    if isinstance(value, Message):
        return json_format.MessageToDict(value, preserving_proto_field_name=True)
    repeated = field.is_repeated
    if field.type == FieldDescriptor.TYPE_ENUM:
        return [_enum_name(field.enum_type, v) for v in value] if repeated else _enum_name(field.enum_type, value)
    nested = field.message_type
    if nested is not None and nested.full_name != _STRUCT:
        if repeated:
            return [_normalise_value_in(nested, item) for item in value]
        return _normalise_value_in(nested, value)
    return value


def _normalise_value_in(descriptor: Descriptor, value: Any) -> Any:
    if isinstance(value, Message):
        return json_format.MessageToDict(value, preserving_proto_field_name=True)
    return normalise_fields(descriptor, value) if isinstance(value, Mapping) else value


class ResourceRequests:
    """Request building for one resource kind (used by both the sync and the async resource collections)."""

    def __init__(self, kind: ResourceKind) -> None:
        self.kind = kind
        self.message: type[Message] = kind.message
        pascal = kind.message.DESCRIPTOR.name  # "Model", "VectorDB", ...
        self.register_rpc, self.get_rpc = f"Register{pascal}", f"Get{pascal}"
        self.list_rpc, self.unregister_rpc = f"List{pascal}s", f"Unregister{pascal}"
        self.id_field = f"{kind.name}_id"
        self._types = {
            rpc: getattr(registry_pb2, f"{rpc}Request")
            for rpc in (self.register_rpc, self.get_rpc, self.list_rpc, self.unregister_rpc)
        }

    def resource(
        self, identifier: str | Message, provider_id: str = "", provider_resource_id: str = "", **fields: Any
    ) -> Message:
        """A resource proto: `identifier` may be a ready resource proto (then nothing else may be given)."""
        if isinstance(identifier, Message):
            if not isinstance(identifier, self.message):
                raise TypeError(f"expected a {self.message.DESCRIPTOR.name}, got {type(identifier).__name__}")
            if provider_id or provider_resource_id or fields:
                raise TypeError("give either a resource proto or its fields, not both")
            return copied(identifier)
        if not identifier:
            raise ValueError(f"a {self.kind.name} needs an identifier")
        values = {
            "identifier": identifier,
            "provider_id": provider_id,
            "provider_resource_id": provider_resource_id,
            **{key: value for key, value in fields.items() if value is not None},
        }
        return json_format.ParseDict(normalise_fields(self.message.DESCRIPTOR, values), self.message())

    def register(self, resource: Message) -> Message:
        return self._types[self.register_rpc](**{self.kind.name: resource})

    def get(self, identifier: str) -> Message:
        return self._types[self.get_rpc](**{self.id_field: identifier})

    def list(self, page_size: int = 0, page_token: str = "") -> Message:
        return self._types[self.list_rpc](page_size=page_size, page_token=page_token)

    def unregister(self, identifier: str) -> Message:
        return self._types[self.unregister_rpc](**{self.id_field: identifier})
