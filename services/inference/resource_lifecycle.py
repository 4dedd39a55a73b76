"""llama.provider.v1.ResourceLifecycleService for models: the registry asks before it stores a model whether a provider
of this service serves it, and gets an embedding model's dimension and context length filled in; it asks again when
the model's last registration goes, and a post-training checkpoint is then released."""

from __future__ import annotations

from llama.common.v1 import resources_pb2 as res
from llama.provider.v1 import provider_pb2, provider_pb2_grpc
from llama_mesh.resource_lifecycle import prepared, unpacked
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument
from services.inference.provider import Embedder
from services.inference.providers import ProviderSet


class ModelLifecycleServicer(provider_pb2_grpc.ResourceLifecycleServiceServicer):
    def __init__(self, providers: ProviderSet) -> None:
        self._providers = providers

    async def PrepareResource(self, request, context):  # noqa: N802, ANN001, ANN201 - gRPC method
        model = unpacked(request.resource, res.Model, "inference")
        provider = self._providers.get(model.provider_id)
        name = model.provider_resource_id
        provider.require_registrable(name)
        wanted = res.MODEL_TYPE_EMBEDDING if provider.serves_embeddings else res.MODEL_TYPE_LLM
        if model.model_type != wanted:
            kind = "embedding" if provider.serves_embeddings else "llm"
            raise FailedPrecondition(
                f"provider {model.provider_id!r} serves {kind} models; register {model.identifier!r} with that type",
                reason="WRONG_MODEL_TYPE",
                identifier=model.identifier,
            )
        if provider.serves_embeddings:
            embedder = await provider.get(name)
            assert isinstance(embedder, Embedder)
            _complete_embedding_metadata(model, embedder)
        return prepared(model)

    async def ReleaseResource(self, request, context):  # noqa: N802, ANN001, ANN201
        # The gateway asks when the last registration naming the model goes. A post-training checkpoint stops being
        # served; the models the distribution configured stay loaded.
        model = unpacked(request.resource, res.Model, "inference")
        if model.provider_id in self._providers.providers:  # releasing what is not here is not an error
            await self._providers.get(model.provider_id).release(model.provider_resource_id)
        return provider_pb2.ReleaseResourceResponse()


def _complete_embedding_metadata(model: res.Model, embedder: Embedder) -> None:
    metadata = dict(model.metadata.items())  # Struct has no .get()
    declared = metadata.get("embedding_dimension")
    if declared is not None:
        if not isinstance(declared, float) or not declared.is_integer():  # a Struct number is a float; inf is not
            raise InvalidArgument(
                "model.metadata.embedding_dimension", f"must be a whole number, got {str(declared)[:64]!r}"
            )
        if int(declared) != embedder.dimension:
            raise InvalidArgument(
                "model.metadata.embedding_dimension",
                f"is {int(declared)} but model {model.provider_resource_id!r} makes {embedder.dimension}-d embeddings",
            )
    model.metadata["embedding_dimension"] = embedder.dimension
    if "context_length" not in metadata:
        model.metadata["context_length"] = embedder.context_length
