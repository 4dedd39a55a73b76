"""Every API's RPCs as the gateway sees them: full method name, API, streaming shape and route (from the contracts)."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import cache

from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor, ServiceDescriptor

import llama
from llama.common.v1 import resources_pb2, routing_pb2

# APIs the gateway serves itself (registry, inspect) or calls itself (provider), instead of forwarding.
GATEWAY_APIS = frozenset({"registry", "inspect", "provider"})


@dataclass(frozen=True)
class MethodRoute:
    full_method: str  # "/llama.inference.v1.InferenceService/ChatCompletion"
    api: str  # "inference"
    service_full_name: str
    client_streaming: bool
    server_streaming: bool
    resource_kind: int  # resources_pb2.ResourceKind; UNSPECIFIED: goes to the API's service
    routing_field: str
    routing_field_number: int
    model_type: int  # resources_pb2.ModelType required of the model, UNSPECIFIED: any


def _route_of(method: MethodDescriptor) -> MethodRoute:
    service = method.containing_service
    api = service.full_name.split(".")[1]
    route = method.GetOptions().Extensions[routing_pb2.route]
    field_number = 0
    if route.resource_kind != resources_pb2.RESOURCE_KIND_UNSPECIFIED:
        field = method.input_type.fields_by_name.get(route.field)
        if field is None or field.type != FieldDescriptor.TYPE_STRING:
            raise ValueError(f"{method.full_name}: route field {route.field!r} is not a string field of the request")
        field_number = field.number
    return MethodRoute(
        full_method=f"/{service.full_name}/{method.name}",
        api=api,
        service_full_name=service.full_name,
        client_streaming=method.client_streaming,
        server_streaming=method.server_streaming,
        resource_kind=route.resource_kind,
        routing_field=route.field if field_number else "",
        routing_field_number=field_number,
        model_type=route.model_type,
    )


@cache
def api_services() -> tuple[ServiceDescriptor, ...]:
    """Service descriptors of every API contract, found by importing every generated `*_pb2` module."""
    services: list[ServiceDescriptor] = []
    for module_info in pkgutil.walk_packages(llama.__path__, prefix="llama."):
        if not module_info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(module_info.name)
        services.extend(module.DESCRIPTOR.services_by_name.values())
    return tuple(sorted(services, key=lambda service: service.full_name))


@cache
def forwarded_routes() -> dict[str, MethodRoute]:
    """Routes of every RPC the gateway forwards, by full method name."""
    routes: dict[str, MethodRoute] = {}
    for service in api_services():
        if service.full_name.split(".")[1] in GATEWAY_APIS:
            continue
        for method in service.methods:
            route = _route_of(method)
            routes[route.full_method] = route
    return routes
