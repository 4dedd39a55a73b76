"""llama.inspect.v1.InspectService: providers, routes, health of every service, version."""

from __future__ import annotations

import asyncio
import logging
import re
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import grpc
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.api_catalog import forwarded_routes
from gateway.backends import Backends
from llama.inspect.v1 import inspect_pb2, inspect_pb2_grpc
from llama_mesh.resources import KIND_BY_NUMBER
from llama_mesh.runtime.config import RunConfig, ServiceConfig

log = logging.getLogger(__name__)
_SECRET_WORDS = frozenset({"key", "token", "secret", "password", "passwd", "credential", "credentials", "dsn", "auth"})
_SECRET_ENDINGS = ("key", "token", "secret", "password")
_HIDDEN = "********"
HEALTH_TIMEOUT_SECONDS = 2.0


def _redacted_url(text: str) -> str:
    """`text` with the password of a URL in it hidden (scheme://user:password@host/...)."""
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    if not parts.scheme or not parts.netloc or parts.password is None:
        return text
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:{_HIDDEN}@{host}"))


def _secret_key(key: str) -> bool:
    """api_key, hf_token, db_password, apiKey, dsn... (not max_tokens)."""
    lowered = key.lower()
    return bool(_SECRET_WORDS.intersection(re.split(r"[^a-z0-9]+", lowered))) or lowered.endswith(_SECRET_ENDINGS)


def _redacted(value: Any, key: str = "") -> Any:
    """A provider's config as callers may see it: values under a secret-sounding key hidden at every depth (nested
    mappings such as engine_args, and lists), and passwords in URLs hidden wherever they appear."""
    if _secret_key(key) and not isinstance(value, dict | list):
        return _HIDDEN if value not in ("", None) else value
    if isinstance(value, dict):
        return {item_key: _redacted(item, str(item_key)) for item_key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item, key) for item in value]
    if isinstance(value, str):
        return _redacted_url(value)
    return value


def mesh_version() -> str:
    try:
        return version("llama-mesh")
    except PackageNotFoundError:
        return "0.0.0+local"


class InspectServicer(inspect_pb2_grpc.InspectServiceServicer):
    def __init__(self, config: RunConfig, backends: Backends) -> None:
        self._config = config
        self._backends = backends

    async def ListProviders(self, request, context):  # noqa: N802, ANN001, ANN201 - gRPC method
        response = inspect_pb2.ListProvidersResponse()
        for service in self._config.services:
            if request.api and service.api != request.api:
                continue
            for provider in service.providers:
                config = struct_pb2.Struct()
                config.update(_redacted(provider.config))
                response.providers.add(
                    api=service.api,
                    provider_id=provider.provider_id,
                    provider_type=provider.provider_type,
                    service=service.name,
                    address=service.address,
                    config=config,
                )
        return response

    async def ListRoutes(self, request, context):  # noqa: N802, ANN001, ANN201
        response = inspect_pb2.ListRoutesResponse()
        for route in sorted(forwarded_routes().values(), key=lambda r: r.full_method):
            if request.api and route.api != request.api:
                continue
            kind = KIND_BY_NUMBER.get(route.resource_kind)
            response.routes.add(
                method=route.full_method,
                api=route.api,
                routing_field=route.routing_field,
                resource_kind=kind.name if kind else "",
                addresses=[service.address for service in self._config.services_for(route.api)],
            )
        return response

    async def GetHealth(self, request, context):  # noqa: N802, ANN001, ANN201
        checks = await asyncio.gather(*(self._check(service) for service in self._config.services))
        overall = (
            inspect_pb2.SERVING_STATUS_SERVING
            if all(check.status == inspect_pb2.SERVING_STATUS_SERVING for check in checks)
            else inspect_pb2.SERVING_STATUS_NOT_SERVING
        )
        return inspect_pb2.GetHealthResponse(status=overall, services=checks)

    async def GetVersion(self, request, context):  # noqa: N802, ANN001, ANN201
        return inspect_pb2.GetVersionResponse(version=mesh_version(), distribution=self._config.distribution)

    async def _check(self, service: ServiceConfig) -> inspect_pb2.ServiceHealth:
        health = inspect_pb2.ServiceHealth(service=service.name, api=service.api, address=service.address)
        stub = health_pb2_grpc.HealthStub(self._backends.channel(service.address))
        try:
            reply = await stub.Check(
                health_pb2.HealthCheckRequest(service=service.name), timeout=HEALTH_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as error:
            health.status = inspect_pb2.SERVING_STATUS_UNREACHABLE
            health.message = error.code().name  # gRPC's connection details (addresses) go to the log only
            log.info("health check of %s: %s: %s", service.name, error.code().name, error.details())
            return health
        serving = reply.status == health_pb2.HealthCheckResponse.SERVING
        health.status = inspect_pb2.SERVING_STATUS_SERVING if serving else inspect_pb2.SERVING_STATUS_NOT_SERVING
        health.message = "" if serving else "starting or draining"
        return health
