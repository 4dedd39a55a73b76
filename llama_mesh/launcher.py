"""Start a distribution as local processes (the gateway and one process per service), wait until all are ready,
and stop them all cleanly.  `python -m llama_mesh.launcher --distribution local-cpu` is what `make up` runs."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from llama_mesh.runtime.config import RunConfig, distribution_path, load_run_config
from llama_mesh.runtime.mesh_identity import SECRET_ENV, mesh_secret
from llama_mesh.runtime.transport_security import channel_credentials

REPO_ROOT = Path(__file__).resolve().parent.parent


class MeshStartError(Exception):
    pass


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def isolated_env(data_dir: Path) -> dict[str, str]:
    """Environment that points a distribution at free loopback ports and its own data directory (tests, benchmarks);
    the model cache stays shared, so converted models are reused."""
    return {
        "LLAMA_MESH_DATA_DIR": str(data_dir),
        "LLAMA_MESH_GATEWAY_ADDRESS": f"127.0.0.1:{free_loopback_port()}",
        "LLAMA_MESH_INFERENCE_ADDRESS": f"127.0.0.1:{free_loopback_port()}",
        "LLAMA_MESH_VECTOR_IO_ADDRESS": f"127.0.0.1:{free_loopback_port()}",
        "LLAMA_MESH_SAFETY_ADDRESS": f"127.0.0.1:{free_loopback_port()}",
        "LLAMA_MESH_TOOL_RUNTIME_ADDRESS": f"127.0.0.1:{free_loopback_port()}",
        "LLAMA_MESH_TELEMETRY_ADDRESS": f"127.0.0.1:{free_loopback_port()}",
        "LLAMA_MESH_AGENTS_ADDRESS": f"127.0.0.1:{free_loopback_port()}",
        "LLAMA_MESH_DATASETIO_ADDRESS": f"127.0.0.1:{free_loopback_port()}",
        "LLAMA_MESH_SCORING_ADDRESS": f"127.0.0.1:{free_loopback_port()}",
        "LLAMA_MESH_EVAL_ADDRESS": f"127.0.0.1:{free_loopback_port()}",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


class LocalMesh:
    def __init__(self, distribution: str, env: dict[str, str] | None = None, log_dir: Path | None = None) -> None:
        self.config_path = distribution_path(distribution).resolve()
        self.env = {**os.environ, **(env or {})}
        self.config: RunConfig = load_run_config(self.config_path, self.env)
        if self.config.tls is None and not mesh_secret(self.env):
            # Without mesh TLS, the processes prove to each other that they belong to this mesh with a secret made
            # for this start only (see llama_mesh/runtime/mesh_identity.py).
            self.env[SECRET_ENV] = secrets.token_urlsafe(32)
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    @property
    def gateway_address(self) -> str:
        return self.config.gateway.address

    @property
    def secret(self) -> str:
        """The mesh secret its processes share (empty with mesh TLS)."""
        return mesh_secret(self.env) if self.config.tls is None else ""

    def _spawn(self, name: str, module: str) -> None:
        command = [sys.executable, "-m", module, "--distribution", str(self.config_path), "--service", name]
        output: IO[bytes] | None = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop()
            self._logs.append(output)
        self.processes[name] = subprocess.Popen(
            command, cwd=REPO_ROOT, env=self.env, stdout=output, stderr=subprocess.STDOUT if output else None
        )

    def start(self, timeout: float = 900.0, only: set[str] | None = None) -> None:
        """Start the gateway and every service (or just those named in `only`) and wait until they serve."""
        targets = [(service.name, service.address, f"services.{service.api}") for service in self.config.services]
        targets.append(("gateway", self.gateway_address, "gateway"))
        targets = [target for target in targets if only is None or target[0] in only]
        for name, _, module in targets:
            self._spawn(name, module)
        deadline = time.monotonic() + timeout
        try:
            for name, address, _ in targets:
                self._wait_ready(name, address, deadline)
        except BaseException:
            self.stop()
            raise

    def log_tail(self, name: str, lines: int = 40) -> str:
        if self.log_dir is None or not (self.log_dir / f"{name}.log").exists():
            return ""
        return "\n".join((self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])

    def _wait_ready(self, name: str, address: str, deadline: float) -> None:
        credentials = channel_credentials(self.config, address)  # TLS / mTLS where the distribution sets it up
        with grpc.secure_channel(address, credentials) if credentials else grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                process = self.processes[name]
                if process.poll() is not None:
                    raise MeshStartError(f"{name} exited with code {process.returncode}\n{self.log_tail(name)}")
                try:
                    reply = stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=1.0)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                if time.monotonic() > deadline:
                    raise MeshStartError(f"{name} at {address} was not ready in time\n{self.log_tail(name)}")
                time.sleep(0.25)

    def stop(self, grace: float = 15.0) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes.values():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self._logs:
            log.close()
        self._logs.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run a llama-mesh distribution as local processes")
    parser.add_argument("--distribution", "-d", default=os.environ.get("LLAMA_MESH_DISTRIBUTION", "local-cpu"))
    args = parser.parse_args()
    mesh = LocalMesh(args.distribution)
    print(
        f"starting distribution {mesh.config.distribution!r}: gateway + "
        f"{', '.join(s.name for s in mesh.config.services)} (first start loads models; this can take a minute)",
        flush=True,
    )
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    try:
        mesh.start()
    except (MeshStartError, KeyboardInterrupt) as exc:
        print(f"could not start the mesh: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    print(
        f"\nllama-mesh is up. Gateway: {mesh.gateway_address}\n"
        f'  try: llama-mesh --gateway {mesh.gateway_address} chat -m smollm2-135m-instruct "Hello!"\n'
        "  Ctrl-C stops every service.",
        flush=True,
    )
    try:
        while not stopping:
            for name, process in mesh.processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with code {process.returncode}; stopping the mesh", file=sys.stderr)
                    stopping = True
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    print("stopping...", flush=True)
    mesh.stop()
    print("stopped.", flush=True)


if __name__ == "__main__":
    main()
