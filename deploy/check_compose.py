"""Check docker-compose.yml against the distributions it runs: a container for the gateway and for every service of
local-cpu's run.yaml; the services calling the gateway on its mTLS-only mesh port, which is not published; and with
deploy/gpu.env and the gpu profile, the whole gpu-vllm mesh with inference on the inference-gpu container (vLLM's CUDA
image, NVIDIA GPUs reserved). Usage: check_compose.py <compose command...>"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from llama_mesh.runtime.config import distribution_path, load_run_config

GPU_ENV = Path(__file__).resolve().parent / "gpu.env"


def rendered(compose: list[str], *options: str) -> dict[str, Any]:
    command = [*compose, *options, "config", "--format", "json"]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def missing_containers(project: dict[str, Any], distribution: str, stand_ins: dict[str, str]) -> list[str]:
    """Services of the distribution with no running container (scale 0 counts as none); `stand_ins` maps a service
    to the container that serves it instead of its namesake."""
    running = {name for name, service in project["services"].items() if service.get("scale", 1) != 0}
    wanted = {"gateway", *(service.name for service in load_run_config(distribution_path(distribution)).services)}
    return sorted(name for name in wanted if stand_ins.get(name, name) not in running)


def gpu_profile_errors(project: dict[str, Any]) -> list[str]:
    errors = [
        f"--profile gpu with deploy/gpu.env: no container runs {name} of distributions/gpu-vllm"
        for name in missing_containers(project, "gpu-vllm", {"inference": "inference-gpu"})
    ]
    services = project["services"]
    if services["inference"].get("scale", 1) != 0:
        errors.append("--profile gpu with deploy/gpu.env: the CPU inference container still runs beside inference-gpu")
    if not project["configs"]["distribution"]["file"].endswith("distributions/gpu-vllm/run.yaml"):
        errors.append("--profile gpu with deploy/gpu.env: the containers do not read distributions/gpu-vllm")
    for name, service in services.items():
        if "environment" not in service:  # a one-shot helper (the certs copier), no mesh process
            continue
        if (
            service.get("scale", 1) != 0
            and service["environment"]["LLAMA_MESH_INFERENCE_ADDRESS"] != "inference-gpu:50061"
        ):
            errors.append(f"--profile gpu: {name} does not reach inference at inference-gpu:50061")
    gpu = services["inference-gpu"]
    devices = gpu.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
    if gpu["build"]["target"] != "vllm-cuda" or not any(d.get("driver") == "nvidia" for d in devices):
        errors.append("inference-gpu must build the vllm-cuda target and reserve NVIDIA GPUs")
    return errors


def mesh_port_errors(project: dict[str, Any]) -> list[str]:
    """Every process of the mesh is told the gateway's mesh port (gateway:<port>), and the host does not reach it."""
    errors = []
    for name, service in project["services"].items():
        if "environment" not in service:  # a one-shot helper (the certs copier), no mesh process
            continue
        address = service["environment"].get("LLAMA_MESH_GATEWAY_MESH_ADDRESS", "")
        if not address.startswith("gateway:"):
            errors.append(f"{name}: LLAMA_MESH_GATEWAY_MESH_ADDRESS is {address!r}, not the gateway's mesh port")
    gateway = project["services"]["gateway"]
    port = gateway["environment"].get("LLAMA_MESH_GATEWAY_MESH_ADDRESS", "").rsplit(":", 1)[-1]
    if any(str(entry.get("target")) == port for entry in gateway.get("ports", [])):
        errors.append(f"gateway: its mesh port {port} is published; only the mesh's containers may reach it")
    return errors


def main(compose: list[str]) -> int:
    default = rendered(compose)
    missing = missing_containers(default, "local-cpu", {})
    errors = [
        f"docker-compose.yml has no container for {', '.join(missing)} of distributions/local-cpu/run.yaml: "
        "add a block for each (see the file's header)"
    ] if missing else []  # fmt: skip
    errors += mesh_port_errors(default)
    errors += gpu_profile_errors(rendered(compose, "--env-file", str(GPU_ENV), "--profile", "gpu"))
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        return 1
    print(f"docker-compose.yml: {len(default['services'])} containers; the gpu profile runs all of gpu-vllm")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
