"""llama.provider.v1.ResourceLifecycleService for vector DBs: registering one creates its collection, unregistering
drops it (with its chunks)."""

from __future__ import annotations

from google.protobuf import any_pb2

from llama.common.v1 import resources_pb2 as res
from llama.provider.v1 import provider_pb2, provider_pb2_grpc
from llama_mesh.runtime.errors import InvalidArgument
from services.vector_io.providers import VectorStores


def _vector_db(packed: any_pb2.Any) -> res.VectorDB:
    vector_db = res.VectorDB()
    if not packed.Unpack(vector_db):
        raise InvalidArgument("resource", f"the vector_io service prepares vector DBs, not {packed.type_url}")
    return vector_db


class VectorDBLifecycleServicer(provider_pb2_grpc.ResourceLifecycleServiceServicer):
    def __init__(self, stores: VectorStores) -> None:
        self._stores = stores

    async def PrepareResource(self, request, context):  # noqa: N802, ANN001, ANN201 - gRPC method
        vector_db = _vector_db(request.resource)
        store = self._stores.get(vector_db.provider_id)
        if vector_db.embedding_dimension <= 0:
            raise InvalidArgument("vector_db.embedding_dimension", "must be positive")
        await store.create_collection(vector_db.provider_resource_id, vector_db.embedding_dimension)
        return provider_pb2.PrepareResourceResponse(resource=request.resource)

    async def ReleaseResource(self, request, context):  # noqa: N802, ANN001, ANN201
        vector_db = _vector_db(request.resource)
        store = self._stores.providers.get(vector_db.provider_id)
        if store is not None:
            await store.drop_collection(vector_db.provider_resource_id)
        return provider_pb2.ReleaseResourceResponse()
