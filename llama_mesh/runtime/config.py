"""A distribution's run.yaml: which service serves each API, with which providers, and what is pre-registered.

Values may use `${env.VAR}` (required) or `${env.VAR:default}`; substitution happens on the raw text of each
scalar before validation, so a whole file can be pointed at other ports or directories from the environment.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from llama_mesh.runtime.secrets import read_secret

_ENV_PATTERN = re.compile(r"\$\{env\.([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")


class ConfigError(Exception):
    """The run.yaml is missing, malformed or refers to an unset variable."""


def substitute_env(value: Any, environ: dict[str, str] | None = None) -> Any:
    """Replace `${env.VAR}` / `${env.VAR:default}` in every string of a YAML tree."""
    env = os.environ if environ is None else environ
    if isinstance(value, dict):
        return {key: substitute_env(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute_env(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is None:
            raise ConfigError(f"environment variable {name} is not set and has no default (${{env.{name}:default}})")
        return default

    return _ENV_PATTERN.sub(replace, value)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProviderConfig(_Strict):
    provider_id: str
    # e.g. "inline::llama-cpp", "inline::vllm", "remote::openai", "inline::sentence-transformers"
    provider_type: str
    config: dict[str, Any] = Field(default_factory=dict)


class ServiceConfig(_Strict):
    """One deployable service: an API, the address it listens on, and the providers it hosts."""

    name: str
    api: str
    address: str
    providers: list[ProviderConfig] = Field(default_factory=list)
    # host:port where this service serves Prometheus text (/metrics) when telemetry.metrics_exporter is prometheus.
    metrics_address: str = ""


class EdgeConfig(_Strict):
    """An HTTP edge in front of the gateway (the OpenAI-compatible API, `services/openai_edge`): the host:port it
    listens on and its own settings (validated by the edge)."""

    address: str
    config: dict[str, Any] = Field(default_factory=dict)


class RegistryConfig(_Strict):
    """sqlite: one gateway, a file under data_dir. postgres: several gateways share one database (dsn: a libpq
    connection string or URI, or dsn_file: a file holding it, e.g. a mounted secret)."""

    type: Literal["sqlite", "postgres"] = "sqlite"
    path: str = "registry.db"
    dsn: str = Field(default="", repr=False)
    dsn_file: str = ""

    @model_validator(mode="after")
    def _postgres_has_dsn(self) -> RegistryConfig:
        if self.type == "postgres" and not (self.dsn or self.dsn_file):
            raise ValueError("gateway.registry: type postgres needs dsn or dsn_file")
        return self

    def postgres_dsn(self) -> str:
        return read_secret("gateway.registry.dsn", value=self.dsn, file=self.dsn_file)


class TokenConfig(_Strict):
    """One bearer token the gateway accepts: the secret (token, token_env or token_file), a name for logs (and the
    owner of what it creates), the resources it may use: `all`, or per kind (models, shields, vector_dbs, ...) a list
    of ids or glob patterns, and whether it has the admin scope."""

    name: str
    token: str = Field(default="", repr=False)
    token_env: str = ""
    token_file: str = ""
    resources: Literal["all"] | dict[str, list[str]]
    # Sees every principal's records (agents, sessions, jobs, traces); others see only their own.
    admin: bool = False

    @model_validator(mode="after")
    def _one_secret(self) -> TokenConfig:
        if sum(bool(value) for value in (self.token, self.token_env, self.token_file)) != 1:
            raise ValueError(f"token {self.name!r}: give exactly one of token, token_env, token_file")
        return self

    def secret(self) -> str:
        return read_secret(f"token {self.name!r}", value=self.token, env=self.token_env, file=self.token_file)


class AuthConfig(_Strict):
    """Bearer-token auth at the gateway; off when no tokens are listed. `service_token` names the token the services
    send on the calls they make through the gateway."""

    tokens: list[TokenConfig] = Field(default_factory=list)
    service_token: str = ""

    @model_validator(mode="after")
    def _service_token_listed(self) -> AuthConfig:
        names = [token.name for token in self.tokens]
        if len(names) != len(set(names)):
            raise ValueError(f"gateway.auth: token names must be unique, got {names}")
        if self.tokens and self.service_token not in names:
            raise ValueError("gateway.auth.service_token must name one of gateway.auth.tokens")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.tokens)


class GatewayTLSConfig(_Strict):
    """TLS on the gateway's public endpoint; with client_ca_file, clients must present a certificate it signed.
    ca_file: what the services trust when they call the gateway (default: the mesh CA, else the system roots)."""

    cert_file: str
    key_file: str
    client_ca_file: str = ""
    ca_file: str = ""


class MeshTLSConfig(_Strict):
    """Mutual TLS between the services: each serves with cert/key and asks for a client certificate signed by ca_file;
    each channel it opens trusts ca_file and presents cert/key. `{service}` in cert_file / key_file is the process's
    name (gateway, inference, ...). A service serves only certificates with the URI SAN
    `spiffe://<trust_domain>/gateway`, and peers' `spiffe://<trust_domain>/<service>` for span export."""

    ca_file: str
    cert_file: str
    key_file: str
    trust_domain: str = "llama-mesh"


class GatewayConfig(_Strict):
    address: str = "127.0.0.1:50051"
    # host:port where the gateway serves Prometheus text (/metrics) when telemetry.metrics_exporter is prometheus.
    metrics_address: str = ""
    registry: RegistryConfig
    auth: AuthConfig = Field(default_factory=AuthConfig)
    tls: GatewayTLSConfig | None = None
    # A request the gateway routes by a resource id (and so reads) larger than this is refused, INVALID_ARGUMENT.
    max_routed_request_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    # The deadline of a forwarded call whose caller set none, in seconds.
    default_forward_timeout_s: float = Field(default=900.0, gt=0)
    # With mesh TLS and no gateway.tls: serve callers in plaintext while the gateway's calls to the services stay
    # mTLS. For a gateway reached only on loopback or a private network (docker compose publishes it on 127.0.0.1).
    plaintext: bool = False
    # With mesh TLS: host:port of the gateway's port for the mesh's own processes, mTLS only (a client certificate
    # naming a mesh identity). Services call the gateway there, and only there does the service token count (and
    # with it acting for a caller); clients and the OpenAI edge keep `address`. Needed when callers are served
    # otherwise than by mesh mTLS (plaintext, or gateway.tls).
    mesh_address: str = ""


class ResourcesConfig(_Strict):
    """Resources registered at gateway start (when not already in the registry), in proto JSON form."""

    models: list[dict[str, Any]] = Field(default_factory=list)
    shields: list[dict[str, Any]] = Field(default_factory=list)
    vector_dbs: list[dict[str, Any]] = Field(default_factory=list)
    tool_groups: list[dict[str, Any]] = Field(default_factory=list)
    datasets: list[dict[str, Any]] = Field(default_factory=list)
    scoring_functions: list[dict[str, Any]] = Field(default_factory=list)
    benchmarks: list[dict[str, Any]] = Field(default_factory=list)


class TelemetryConfig(_Strict):
    # "none" turns tracing off; "console" prints spans; "otlp" exports to otlp_endpoint and extra_otlp_endpoints.
    exporter: Literal["none", "console", "otlp"] = "none"
    # host:port (or http(s)://host:port) of an OTLP gRPC receiver: the telemetry service in the distributions.
    otlp_endpoint: str = ""
    # More OTLP gRPC receivers that get every span too (a collector, Jaeger, a vendor); a comma-separated string is
    # accepted so that one environment variable can name them.
    extra_otlp_endpoints: list[str] = Field(default_factory=list)
    # Bounds on exporting, so that a receiver that is down never holds a service up: seconds one export may take
    # (retries included), and how long spans wait to be sent in a batch.
    export_timeout_seconds: float = Field(default=2.0, gt=0)
    export_delay_ms: int = Field(default=1000, gt=0)
    # Metrics (llama_mesh/runtime/metrics.py): "none" sets nothing up; "prometheus" serves /metrics on each process's
    # metrics_address; "otlp" pushes to metrics_otlp_endpoint (an OTLP gRPC metrics receiver) every interval.
    metrics_exporter: Literal["none", "prometheus", "otlp"] = "none"
    metrics_otlp_endpoint: str = ""
    metrics_export_interval_ms: int = Field(default=10000, gt=0)

    @field_validator("extra_otlp_endpoints", mode="before")
    @classmethod
    def _split_endpoints(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    def otlp_endpoints(self) -> list[str]:
        """Every receiver to export to, the main one first, each once."""
        endpoints = [self.otlp_endpoint, *self.extra_otlp_endpoints]
        return list(dict.fromkeys(endpoint for endpoint in endpoints if endpoint))


class RunConfig(_Strict):
    version: int = 1
    distribution: str
    data_dir: str
    cache_dir: str
    gateway: GatewayConfig
    services: list[ServiceConfig]
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    # mTLS between the services (and the gateway's side of it); none: plaintext inside the mesh (the services then
    # need the per-mesh secret, see mesh_identity.py). A `tls:` whose three files are all empty counts as none, so a
    # distribution can leave it to the environment (LLAMA_MESH_TLS_CA_FILE...).
    tls: MeshTLSConfig | None = None
    # The OpenAI-compatible HTTP edge; none: not started.
    openai_edge: EdgeConfig | None = None

    @field_validator("tls", mode="before")
    @classmethod
    def _empty_tls_is_none(cls, value: Any) -> Any:
        files = ("ca_file", "cert_file", "key_file")
        if isinstance(value, dict) and not any(value.get(name) for name in files):
            return None
        return value

    @model_validator(mode="after")
    def _gateway_mesh_port(self) -> RunConfig:
        if self.gateway.mesh_address and self.tls is None:
            raise ValueError("gateway.mesh_address is served with mesh TLS only: give `tls:` or leave it empty")
        if self.tls is not None and not self.gateway.mesh_address and (self.gateway.plaintext or self.gateway.tls):
            raise ValueError(
                "gateway.mesh_address is needed: with gateway.plaintext or gateway.tls the services reach the gateway "
                "over mTLS on its mesh port"
            )
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> RunConfig:
        names = [service.name for service in self.services]
        if len(names) != len(set(names)):
            raise ValueError(f"service names must be unique, got {names}")
        provider_ids = [provider.provider_id for service in self.services for provider in service.providers]
        if len(provider_ids) != len(set(provider_ids)):
            raise ValueError(f"provider ids must be unique across services, got {provider_ids}")
        return self

    def service(self, name: str) -> ServiceConfig:
        for service in self.services:
            if service.name == name:
                return service
        raise ConfigError(f"no service named {name!r} in distribution {self.distribution!r}")

    def service_of_provider(self, provider_id: str) -> ServiceConfig | None:
        for service in self.services:
            if any(provider.provider_id == provider_id for provider in service.providers):
                return service
        return None

    def services_for(self, api: str) -> list[ServiceConfig]:
        return [service for service in self.services if service.api == api]

    def data_path(self, *parts: str) -> Path:
        path = Path(self.data_dir).expanduser().joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def load_run_config(path: str | Path, environ: dict[str, str] | None = None) -> RunConfig:
    """Read, substitute and validate a run.yaml."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"distribution config {file} does not exist")
    try:
        raw = yaml.safe_load(file.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{file} must hold a mapping at the top level")
    try:
        return RunConfig.model_validate(substitute_env(raw, environ))
    except ValueError as exc:
        raise ConfigError(f"{file}: {exc}") from exc


def distribution_path(name_or_path: str) -> Path:
    """A distribution name (`local-cpu`) or a path to a run.yaml."""
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"} or candidate.is_file():
        return candidate
    return Path(__file__).resolve().parents[2] / "distributions" / name_or_path / "run.yaml"
