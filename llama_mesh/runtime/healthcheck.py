"""A container health check: exit 0 when a service answers SERVING on its gRPC health endpoint.

`python -m llama_mesh.runtime.healthcheck [--service NAME]` asks 127.0.0.1 at the service's port (the server listens on
LLAMA_MESH_BIND_HOST there). The port comes from the service's address variable (LLAMA_MESH_<NAME>_ADDRESS, which
compose sets for every service), else from the distribution. It runs every few seconds in every container, so it
imports no more than gRPC's health stub unless it must read the distribution. It stands in for grpc_health_probe in
images; Kubernetes uses its own gRPC probes instead. With LLAMA_MESH_HEALTH_PORT set (mesh mTLS), it asks that
plaintext health-only port instead.
"""

from __future__ import annotations

import argparse
import os
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from llama_mesh.runtime.addresses import HEALTH_PORT_ENV, address_env_var, listen_address


def service_address(service: str, distribution: str) -> str:
    """The address `service` (a service of the distribution, or `gateway`) is reached at."""
    if address_env_var(service) in os.environ:
        return os.environ[address_env_var(service)]
    from llama_mesh.runtime.config import distribution_path, load_run_config  # pydantic: only when needed

    config = load_run_config(distribution_path(distribution))
    return config.gateway.address if service == "gateway" else config.service(service).address


def check(address: str, service: str, timeout: float) -> str:
    """The health status name that `address` reports for `service`, or why it could not be asked."""
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
        except grpc.RpcError as error:
            return f"{error.code().name}: {error.details()}"
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="gRPC health check of one llama-mesh service")
    parser.add_argument("--service", default=os.environ.get("LLAMA_MESH_SERVICE", "gateway"))
    parser.add_argument("--distribution", default=os.environ.get("LLAMA_MESH_DISTRIBUTION", "local-cpu"))
    parser.add_argument("--host", default="127.0.0.1", help="host to ask, at the service's port")
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args(argv)
    try:
        address = service_address(args.service, args.distribution)
    except Exception as exc:  # noqa: BLE001 - a bad config is an unhealthy service, said in one line
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 2
    health_port = os.environ.get(HEALTH_PORT_ENV)  # under mesh mTLS: the plaintext health-only port
    target = f"{args.host}:{health_port}" if health_port else listen_address(address, args.host)
    status = check(target, args.service, args.timeout)
    if status != "SERVING":
        print(f"unhealthy: {args.service} at {target}: {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
