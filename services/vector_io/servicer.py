"""llama.vector_io.v1.VectorIOService: validates, embeds what needs it (through the gateway), calls the store."""

from __future__ import annotations

import grpc

from llama.common.v1 import resources_pb2
from llama.vector_io.v1 import vector_io_pb2 as pb
from llama.vector_io.v1 import vector_io_pb2_grpc
from llama_mesh.resources import resolved_resource
from llama_mesh.runtime.channels import remaining_timeout
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument
from llama_mesh.runtime.gateway_client import GatewayClient
from services.vector_io import chunks as convert
from services.vector_io.embeddings import DOCUMENT, QUERY, embed
from services.vector_io.provider import SearchMode, SearchQuery, VectorStore
from services.vector_io.providers import VectorStores


class VectorIOServicer(vector_io_pb2_grpc.VectorIOServiceServicer):
    def __init__(self, stores: VectorStores, gateway: GatewayClient) -> None:
        self._stores = stores
        self._gateway = gateway

    def _vector_db(
        self, vector_db_id: str, context: grpc.aio.ServicerContext
    ) -> tuple[resources_pb2.VectorDB, VectorStore]:
        """The registered vector DB the gateway resolved for this call, and the store of its provider."""
        if not vector_db_id:
            raise InvalidArgument("vector_db_id", "is required")
        vector_db = resolved_resource(context, resources_pb2.VectorDB, vector_db_id, "vector_io")
        return vector_db, self._stores.get(vector_db.provider_id)

    async def InsertChunks(self, request, context):  # noqa: N802, ANN001, ANN201 - gRPC method
        vector_db, store = self._vector_db(request.vector_db_id, context)
        chunks, to_embed = convert.stored_chunks(request, vector_db.embedding_dimension)
        if to_embed:
            vectors = await embed(
                self._gateway,
                vector_db.embedding_model,
                [chunks[index].text for index in to_embed],
                DOCUMENT,
                remaining_timeout(context),
            )
            for index, vector in zip(to_embed, vectors, strict=True):
                if len(vector) != vector_db.embedding_dimension:
                    raise FailedPrecondition(
                        f"model {vector_db.embedding_model!r} made {len(vector)}-d embeddings but vector DB "
                        f"{vector_db.identifier!r} stores {vector_db.embedding_dimension}-d vectors",
                        reason="EMBEDDING_DIMENSION_MISMATCH",
                    )
                chunks[index].embedding = vector
        await store.upsert(vector_db.provider_resource_id, vector_db.embedding_dimension, chunks)
        return pb.InsertChunksResponse(chunk_ids=[chunk.chunk_id for chunk in chunks])

    async def QueryChunks(self, request, context):  # noqa: N802, ANN001, ANN201
        vector_db, store = self._vector_db(request.vector_db_id, context)
        params = request.params
        mode = convert.search_mode(params)
        vector = convert.query_vector(request, vector_db.embedding_dimension)
        query = SearchQuery(
            mode=mode,
            text=convert.query_text(request, mode, has_vector=vector is not None),
            embedding=vector,
            limit=convert.max_chunks(params),
            score_threshold=params.score_threshold if params.HasField("score_threshold") else None,
            metadata_filter=convert.metadata_filter(params.metadata_filter, "params.metadata_filter"),
        )
        if query.mode is not SearchMode.KEYWORD and query.embedding is None:
            [query.embedding] = await embed(
                self._gateway, vector_db.embedding_model, [query.text], QUERY, remaining_timeout(context)
            )
        hits = await store.search(vector_db.provider_resource_id, vector_db.embedding_dimension, query)
        return pb.QueryChunksResponse(
            chunks=[convert.chunk_message(hit) for hit in hits], scores=[hit.score for hit in hits]
        )

    async def DeleteChunks(self, request, context):  # noqa: N802, ANN001, ANN201
        vector_db, store = self._vector_db(request.vector_db_id, context)
        by_filter = request.HasField("metadata_filter")
        if bool(request.chunk_ids) == by_filter:
            raise InvalidArgument("chunk_ids", "give exactly one of chunk_ids and metadata_filter")
        name, dimension = vector_db.provider_resource_id, vector_db.embedding_dimension
        if request.chunk_ids:
            deleted = await store.delete_ids(name, dimension, convert.chunk_ids_to_delete(request))
        else:
            selected = convert.metadata_filter(request.metadata_filter, "metadata_filter")
            if not selected:
                raise InvalidArgument("metadata_filter", "must not be empty")
            deleted = await store.delete_matching(name, dimension, selected)
        return pb.DeleteChunksResponse(deleted_count=deleted)
