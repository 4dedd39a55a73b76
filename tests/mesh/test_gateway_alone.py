"""The gateway by itself: a configured service that is not running, and a registry that survives a restart."""

from __future__ import annotations

import signal
from pathlib import Path

import grpc

from llama.common.v1 import resources_pb2
from llama.inference.v1 import inference_pb2 as pb
from llama.inference.v1 import inference_pb2_grpc
from llama.registry.v1 import registry_pb2, registry_pb2_grpc
from llama.synthetic_data_generation.v1 import synthetic_data_generation_pb2, synthetic_data_generation_pb2_grpc
from llama_mesh.launcher import LocalMesh, isolated_env
from tests.gateway.distribution_variant import distribution_variant
from tests.mesh.helpers import CHAT_MODEL, expect_error, reason_and_field, user


def _gateway_only(root: Path) -> LocalMesh:
    mesh = LocalMesh("local-cpu", env=isolated_env(root / "data"), log_dir=root / "logs")
    mesh.start(only={"gateway"})
    return mesh


def test_a_service_that_is_not_running_is_unavailable_by_name(tmp_path: Path) -> None:
    mesh = _gateway_only(tmp_path)
    try:
        with grpc.insecure_channel(mesh.gateway_address) as channel:
            inference = inference_pb2_grpc.InferenceServiceStub(channel)
            error = expect_error(
                lambda: inference.ChatCompletion(pb.ChatCompletionRequest(model_id=CHAT_MODEL, messages=[user("hi")])),
                grpc.StatusCode.UNAVAILABLE,
            )
            assert "inference service" in error.details()
            assert reason_and_field(error)[0] == "SERVICE_UNAVAILABLE"
            registry = registry_pb2_grpc.RegistryServiceStub(channel)
            model = resources_pb2.Model(
                identifier="late", provider_id="llama-cpp", provider_resource_id="SmolLM2-135M-Instruct"
            )
            error = expect_error(
                lambda: registry.RegisterModel(registry_pb2.RegisterModelRequest(model=model)),
                grpc.StatusCode.UNAVAILABLE,
            )
            assert "nothing was changed" in error.details()
            expect_error(
                lambda: registry.GetModel(registry_pb2.GetModelRequest(model_id="late")), grpc.StatusCode.NOT_FOUND
            )
            stream = inference.StreamChatCompletion(
                pb.StreamChatCompletionRequest(model_id=CHAT_MODEL, messages=[user("hi")])
            )
            expect_error(lambda: list(stream), grpc.StatusCode.UNAVAILABLE)
    finally:
        mesh.stop()


def test_an_api_whose_service_is_not_in_the_distribution_is_unavailable(tmp_path: Path) -> None:
    def without_synthetic_data(raw: dict) -> None:
        raw["services"] = [s for s in raw["services"] if s["api"] != "synthetic_data_generation"]

    variant = distribution_variant(tmp_path / "variant", without_synthetic_data)
    mesh = LocalMesh(str(variant), env=isolated_env(tmp_path / "data"), log_dir=tmp_path / "logs")
    mesh.start(only={"gateway"})
    try:
        with grpc.insecure_channel(mesh.gateway_address) as channel:
            synthesis = synthetic_data_generation_pb2_grpc.SyntheticDataGenerationServiceStub(channel)
            request = synthetic_data_generation_pb2.SynthesizeDataRequest()
            error = expect_error(lambda: synthesis.SynthesizeData(request, timeout=30), grpc.StatusCode.UNAVAILABLE)
            assert "synthetic_data_generation service" in error.details()
    finally:
        mesh.stop()


def test_registry_survives_a_gateway_restart(tmp_path: Path) -> None:
    model = resources_pb2.Model(
        identifier="kept", provider_id="llama-cpp", provider_resource_id="SmolLM2-135M-Instruct"
    )
    mesh = LocalMesh("local-cpu", env=isolated_env(tmp_path / "data"), log_dir=tmp_path / "logs")
    mesh.start()  # registering asks the inference service to check the model
    try:
        with grpc.insecure_channel(mesh.gateway_address) as channel:
            registry = registry_pb2_grpc.RegistryServiceStub(channel)
            registry.RegisterModel(registry_pb2.RegisterModelRequest(model=model))
            registry.UnregisterModel(registry_pb2.UnregisterModelRequest(model_id="all-MiniLM-L6-v2"))
    finally:
        mesh.stop()
    mesh = LocalMesh(
        "local-cpu", env={**mesh.env, "LLAMA_MESH_GATEWAY_ADDRESS": mesh.gateway_address}, log_dir=tmp_path / "logs2"
    )
    mesh.start(only={"gateway"})
    try:
        with grpc.insecure_channel(mesh.gateway_address) as channel:
            registry = registry_pb2_grpc.RegistryServiceStub(channel)
            kept = registry.GetModel(registry_pb2.GetModelRequest(model_id="kept"))
            assert kept.provider_resource_id == "SmolLM2-135M-Instruct"
            assert kept.model_type == resources_pb2.MODEL_TYPE_LLM
            # pre-registration from run.yaml adds only what is missing, so the model unregistered before is back
            assert registry.GetModel(registry_pb2.GetModelRequest(model_id="all-MiniLM-L6-v2")).identifier
    finally:
        mesh.stop()


def test_sigterm_drains_and_exits_cleanly(tmp_path: Path) -> None:
    mesh = _gateway_only(tmp_path)
    process = mesh.processes["gateway"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert "gateway draining" in mesh.log_tail("gateway") and "gateway stopped" in mesh.log_tail("gateway")
    mesh.stop()
