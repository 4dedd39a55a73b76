"""The resource kinds of the registry, and how the gateway hands a resolved resource to the service it calls."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TypeVar

import grpc
from google.protobuf.message import DecodeError, Message

from llama.common.v1 import resources_pb2 as res
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument

# Metadata the gateway adds to a forwarded call: the resolved resource, serialized (binary header).
RESOURCE_HEADER = "llama-mesh-resource-bin"


@dataclass(frozen=True)
class ResourceKind:
    kind: int  # res.ResourceKind value
    name: str  # "model"
    plural: str  # "models"
    message: type[Message]
    api: str  # the API whose service serves resources of this kind


KINDS: tuple[ResourceKind, ...] = (
    ResourceKind(res.RESOURCE_KIND_MODEL, "model", "models", res.Model, "inference"),
    ResourceKind(res.RESOURCE_KIND_SHIELD, "shield", "shields", res.Shield, "safety"),
    ResourceKind(res.RESOURCE_KIND_VECTOR_DB, "vector_db", "vector_dbs", res.VectorDB, "vector_io"),
    ResourceKind(res.RESOURCE_KIND_TOOL_GROUP, "tool_group", "tool_groups", res.ToolGroup, "tool_runtime"),
    ResourceKind(res.RESOURCE_KIND_DATASET, "dataset", "datasets", res.Dataset, "datasetio"),
    ResourceKind(
        res.RESOURCE_KIND_SCORING_FUNCTION, "scoring_function", "scoring_functions", res.ScoringFunction, "scoring"
    ),
    ResourceKind(res.RESOURCE_KIND_BENCHMARK, "benchmark", "benchmarks", res.Benchmark, "eval"),
)
KIND_BY_NUMBER = {kind.kind: kind for kind in KINDS}
KIND_BY_NAME = {kind.name: kind for kind in KINDS}


# A resource identifier: 1-256 characters, matched whole (a trailing newline is not part of a valid id).
IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+\-]{0,255}")


def check_identifier(field: str, identifier: str) -> None:
    """INVALID_ARGUMENT unless `identifier` is a valid resource identifier; the error quotes at most its first 80
    characters (an id of any length must not make an error larger than clients accept)."""
    if not identifier:
        raise InvalidArgument(field, "is required")
    if not IDENTIFIER.fullmatch(identifier):
        raise InvalidArgument(
            field,
            f"{identifier[:80]!r}{'...' if len(identifier) > 80 else ''} is not a valid identifier: use 1-256 "
            "letters, digits and . _ : / @ + -, starting with a letter or digit",
        )


_SAFE_COLLECTION_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,200}")


def collection_name(provider_resource_id: str) -> str:
    """The collection vector_io keeps a vector DB in. Qdrant allows fewer characters in names than the registry does in
    identifiers: others are replaced, with a short hash of the original keeping the names distinct ("." and ".." are
    refused too). Two provider_resource_ids can name one collection ("a:b" and "a_b-<hash>"): the registry compares
    vector DBs by this name, not by the id."""
    if _SAFE_COLLECTION_NAME.fullmatch(provider_resource_id) and provider_resource_id.strip("."):
        return provider_resource_id
    digest = hashlib.sha256(provider_resource_id.encode()).hexdigest()[:10]
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', provider_resource_id)[:180]}-{digest}"


def resource_metadata(resource: Message) -> tuple[str, bytes]:
    return RESOURCE_HEADER, resource.SerializeToString()


def resource_from_context(context: grpc.aio.ServicerContext, message: type[Message]) -> Message | None:
    """The resource the gateway resolved for this call, or None when the call did not come through the gateway."""
    for key, value in context.invocation_metadata() or ():
        if key == RESOURCE_HEADER:
            resource = message()
            try:
                resource.ParseFromString(value)
            except DecodeError:
                return None
            return resource
    return None


M = TypeVar("M", bound=Message)


def resolved_resource(context: grpc.aio.ServicerContext, message: type[M], identifier: str, api: str) -> M:
    """The resource the gateway resolved for this call; FAILED_PRECONDITION when the call bypassed the gateway (the
    service then knows nothing of the resource: the registry lives in the gateway)."""
    resource = resource_from_context(context, message)
    if resource is None:
        raise FailedPrecondition(
            f"{message.DESCRIPTOR.name} {identifier!r} was not resolved: call the {api} API through the gateway",
            reason="RESOURCE_NOT_RESOLVED",
            identifier=identifier,
        )
    assert isinstance(resource, message)
    return resource
