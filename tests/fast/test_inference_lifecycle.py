"""The inference service's ResourceLifecycleService in-process, over a provider whose checkpoints are fake engines:
preparing a model that names a checkpoint loads nothing; releasing it closes the checkpoint's engine; the models the
configuration lists, unknown models and unknown providers are left alone."""

from __future__ import annotations

import math

import grpc
import pytest
from google.protobuf import any_pb2

from llama.common.v1 import resources_pb2
from llama.provider.v1 import provider_pb2, provider_pb2_grpc
from llama_mesh.runtime.errors import NotFound
from services.inference.provider import Embedder
from services.inference.providers import InferenceProvider, ModelEntry, ProviderSet
from services.inference.resource_lifecycle import ModelLifecycleServicer
from tests.fast.harness import connected
from tests.fast.test_inference_servicer import ScriptedEngine


class ClosingEngine(ScriptedEngine):
    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    async def close(self) -> None:
        self.closed = True


def packed(provider_id: str, name: str) -> any_pb2.Any:
    model = resources_pb2.Model(
        identifier=f"m-{name}",
        provider_id=provider_id,
        provider_resource_id=name,
        model_type=resources_pb2.MODEL_TYPE_LLM,
    )
    resource = any_pb2.Any()
    resource.Pack(model)
    return resource


def checkpoint(name: str) -> ModelEntry:
    if not name.startswith("ckpt-"):
        raise NotFound(f"no checkpoint {name!r}")
    return ModelEntry(source=f"/checkpoints/{name}")


async def test_releasing_a_checkpoint_closes_its_engine_and_leaves_configured_models() -> None:
    engines: dict[str, ClosingEngine] = {}

    def build(name: str, entry: ModelEntry) -> ClosingEngine:
        engines[name] = ClosingEngine()
        return engines[name]

    provider = InferenceProvider("fake", {"base": ModelEntry(source="none")}, False, build, checkpoints=checkpoint)
    lifecycle = ModelLifecycleServicer(ProviderSet({"fake": provider}))
    await lifecycle.PrepareResource(provider_pb2.PrepareResourceRequest(resource=packed("fake", "ckpt-1")), None)
    assert "ckpt-1" in provider.models and not provider.is_loaded("ckpt-1")
    await provider.get("ckpt-1")
    await provider.get("base")

    for provider_id, name in (("fake", "ckpt-1"), ("fake", "base"), ("fake", "ckpt-unknown"), ("other", "ckpt-1")):
        request = provider_pb2.ReleaseResourceRequest(resource=packed(provider_id, name))
        await lifecycle.ReleaseResource(request, None)
    assert engines["ckpt-1"].closed and "ckpt-1" not in provider.models and not provider.is_loaded("ckpt-1")
    assert not engines["base"].closed and provider.is_loaded("base")
    # registered again: the checkpoint is found and loaded anew
    released = engines["ckpt-1"]
    assert await provider.get("ckpt-1") is not released and provider.is_loaded("ckpt-1")


class FixedEmbedder(Embedder):
    """A 384-d embedding model that loads nothing."""

    @property
    def dimension(self) -> int:
        return 384

    @property
    def context_length(self) -> int:
        return 256

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def embed(self, texts: list[str], truncation: str = "end", task: str = "") -> list[list[float]]:
        return [[1.0] + [0.0] * 383 for _ in texts]


@pytest.mark.parametrize("declared", ["384-d", 384.5, math.inf, True])
async def test_a_declared_embedding_dimension_that_is_no_whole_number_is_invalid_argument(declared: object) -> None:
    provider = InferenceProvider(
        "emb", {"mini": ModelEntry(source="none")}, False, lambda name, entry: FixedEmbedder(), serves_embeddings=True
    )
    model = resources_pb2.Model(
        identifier="mini", provider_id="emb", provider_resource_id="mini", model_type=resources_pb2.MODEL_TYPE_EMBEDDING
    )
    model.metadata["embedding_dimension"] = declared
    resource = any_pb2.Any()
    resource.Pack(model)
    servicer = (
        provider_pb2_grpc.add_ResourceLifecycleServiceServicer_to_server,
        ModelLifecycleServicer(ProviderSet({"emb": provider})),
    )
    async with connected(servicer) as channel:
        stub = provider_pb2_grpc.ResourceLifecycleServiceStub(channel)
        with pytest.raises(
            grpc.aio.AioRpcError
        ) as refused:  # "384-d" and inf were INTERNAL (ValueError, OverflowError)
            await stub.PrepareResource(provider_pb2.PrepareResourceRequest(resource=resource), timeout=30)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert refused.value.details().startswith("model.metadata.embedding_dimension: must be a whole number")

        model.metadata["embedding_dimension"] = 384
        resource.Pack(model)
        prepared = await stub.PrepareResource(provider_pb2.PrepareResourceRequest(resource=resource), timeout=30)
    assert prepared.resource.Unpack(model) and model.metadata["embedding_dimension"] == 384
