"""llama.provider.v1.ResourceLifecycleService for shields: the registry asks the shield's provider to check a shield
(e.g. that a Llama Guard shield's model is registered) before it stores it."""

from __future__ import annotations

from google.protobuf import any_pb2

from llama.common.v1 import resources_pb2 as res
from llama.provider.v1 import provider_pb2, provider_pb2_grpc
from llama_mesh.runtime.errors import InvalidArgument
from services.safety.providers import ShieldProviders


class ShieldLifecycleServicer(provider_pb2_grpc.ResourceLifecycleServiceServicer):
    def __init__(self, providers: ShieldProviders) -> None:
        self._providers = providers

    async def PrepareResource(self, request, context):  # noqa: N802, ANN001, ANN201 - gRPC method
        shield = res.Shield()
        if not request.resource.Unpack(shield):
            raise InvalidArgument("resource", f"the safety service prepares shields, not {request.resource.type_url}")
        prepared = await self._providers.get(shield.provider_id).prepare(shield)
        packed = any_pb2.Any()
        packed.Pack(prepared)
        return provider_pb2.PrepareResourceResponse(resource=packed)

    async def ReleaseResource(self, request, context):  # noqa: N802, ANN001, ANN201
        # Shields hold nothing per registration: the models they use belong to the inference service.
        return provider_pb2.ReleaseResourceResponse()
