"""Start a distribution as local processes (the gateway and one process per service), wait until all are ready,
keep them running (a process that dies is started again, with backoff, while the rest keep serving), and stop them
all cleanly.  `python -m llama_mesh.launcher --distribution local-cpu` is what `make up` runs."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from llama_mesh.runtime.config import RunConfig, distribution_path, load_run_config
from llama_mesh.runtime.mesh_identity import SECRET_ENV, mesh_secret
from llama_mesh.runtime.transport_security import OPENAI_EDGE_SERVICE, channel_credentials

REPO_ROOT = Path(__file__).resolve().parent.parent
# Restart backoff of a process that died: 1 s, doubling up to 30 s; back to 1 s once it has stayed up a minute.
RESTART_BACKOFF_S = (1.0, 30.0)
STABLE_AFTER_S = 60.0


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
        "LLAMA_MESH_SYNTHETIC_DATA_GENERATION_ADDRESS": f"127.0.0.1:{free_loopback_port()}",
        "LLAMA_MESH_OPENAI_EDGE_ADDRESS": f"127.0.0.1:{free_loopback_port()}",
        "LLAMA_MESH_POST_TRAINING_ADDRESS": f"127.0.0.1:{free_loopback_port()}",
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
        self._modules: dict[str, str] = {}
        self._started_at: dict[str, float] = {}
        self._failures: dict[str, int] = {}  # deaths in a row, for the backoff
        self._restart_at: dict[str, float] = {}  # when a dead process is due to start again

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
            mode = "ab" if name in self.processes else "wb"  # a restart keeps the log of the run that died
            output = open(self.log_dir / f"{name}.log", mode)  # noqa: SIM115 - closed in stop()
            self._logs.append(output)
        self._modules[name] = module
        self._started_at[name] = time.monotonic()
        self.processes[name] = subprocess.Popen(
            command, cwd=REPO_ROOT, env=self.env, stdout=output, stderr=subprocess.STDOUT if output else None
        )

    def supervise(self) -> list[str]:
        """One round of supervision: a process that exited is scheduled to start again after its backoff, and
        started once that has passed. Returns what happened, one line per event, for the log."""
        events = []
        now = time.monotonic()
        for name, process in list(self.processes.items()):
            if process.poll() is None:
                if now - self._started_at[name] > STABLE_AFTER_S:
                    self._failures[name] = 0
                continue
            if name not in self._restart_at:
                failures = self._failures.get(name, 0)
                delay = min(RESTART_BACKOFF_S[0] * 2**failures, RESTART_BACKOFF_S[1])
                self._failures[name] = failures + 1
                self._restart_at[name] = now + delay
                events.append(f"{name} exited with code {process.returncode}; restarting it in {delay:g}s")
            elif now >= self._restart_at[name]:
                del self._restart_at[name]
                self._spawn(name, self._modules[name])
                events.append(f"{name} restarted (pid {self.processes[name].pid})")
        return events

    def start(self, timeout: float = 900.0, only: set[str] | None = None) -> None:
        """Start the gateway and every service (or just those named in `only`) and wait until they serve."""
        targets = [(service.name, service.address, f"services.{service.api}") for service in self.config.services]
        targets.append(("gateway", self.gateway_address, "gateway"))
        if self.config.openai_edge is not None:
            targets.append((OPENAI_EDGE_SERVICE, self.config.openai_edge.address, "services.openai_edge"))
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

    def wait_until_serving(self, name: str, timeout: float = 900.0) -> None:
        """Wait until process `name` (the gateway or a service) reports SERVING, e.g. after `supervise` restarted it."""
        address = self.gateway_address if name == "gateway" else self.config.service(name).address
        self._wait_ready(name, address, time.monotonic() + timeout)

    def log_tail(self, name: str, lines: int = 40) -> str:
        if self.log_dir is None or not (self.log_dir / f"{name}.log").exists():
            return ""
        return "\n".join((self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])

    def _wait_ready(self, name: str, address: str, deadline: float) -> None:
        if name == OPENAI_EDGE_SERVICE:  # an HTTP server: its /health answers once it serves
            url = f"http://{address}/health"
            self._poll(name, url, lambda: httpx.get(url, timeout=1.0).status_code == 200, httpx.HTTPError, deadline)
            return
        credentials = channel_credentials(self.config, address)  # TLS / mTLS where the distribution sets it up
        with grpc.secure_channel(address, credentials) if credentials else grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)

            def serving() -> bool:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=1.0)
                return reply.status == health_pb2.HealthCheckResponse.SERVING

            self._poll(name, address, serving, grpc.RpcError, deadline)

    def _poll(
        self, name: str, where: str, ready: Callable[[], bool], not_yet: type[Exception], deadline: float
    ) -> None:
        """Until `ready()` (failing with `not_yet` while the process starts), the process exits, or the deadline."""
        while True:
            process = self.processes[name]
            if process.poll() is not None:
                raise MeshStartError(f"{name} exited with code {process.returncode}\n{self.log_tail(name)}")
            try:
                if ready():
                    return
            except not_yet:
                pass
            if time.monotonic() > deadline:
                raise MeshStartError(f"{name} at {where} was not ready in time\n{self.log_tail(name)}")
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
    edge = mesh.config.openai_edge
    edge_line = f"  OpenAI-compatible API: http://{edge.address}/v1\n" if edge else ""
    print(
        f"\nllama-mesh is up. Gateway: {mesh.gateway_address}\n{edge_line}"
        f'  try: llama-mesh --gateway {mesh.gateway_address} chat -m smollm2-135m-instruct "Hello!"\n'
        "  Ctrl-C stops every service.",
        flush=True,
    )
    try:
        while not stopping:
            for event in mesh.supervise():
                print(event, file=sys.stderr, flush=True)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    print("stopping...", flush=True)
    mesh.stop()
    print("stopped.", flush=True)


if __name__ == "__main__":
    main()
