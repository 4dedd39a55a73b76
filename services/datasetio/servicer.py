"""llama.datasetio.v1.DatasetIOService: checks the request, hands it to the dataset's provider, builds the reply."""

from __future__ import annotations

from llama.common.v1 import resources_pb2 as res
from llama.datasetio.v1 import datasetio_pb2, datasetio_pb2_grpc
from llama_mesh.resources import resolved_resource
from llama_mesh.runtime.errors import InvalidArgument
from services.datasetio.paging import next_start, window_bounds
from services.datasetio.providers import DatasetProviders
from services.datasetio.row_values import from_struct, to_structs


class DatasetIOServicer(datasetio_pb2_grpc.DatasetIOServiceServicer):
    def __init__(self, providers: DatasetProviders) -> None:
        self._providers = providers

    def _dataset(self, context, dataset_id: str) -> res.Dataset:  # noqa: ANN001 - grpc.aio.ServicerContext
        if not dataset_id:
            raise InvalidArgument("dataset_id", "is required")
        return resolved_resource(context, res.Dataset, dataset_id, "datasetio")

    async def IterRows(self, request, context):  # noqa: N802, ANN001, ANN201 - gRPC method
        start, limit = window_bounds(request.start_index, request.limit)
        dataset = self._dataset(context, request.dataset_id)
        window = await self._providers.get(dataset.provider_id).window(dataset, start, limit)
        reply = datasetio_pb2.IterRowsResponse(rows=to_structs(window.rows), total_rows=window.total)
        following = next_start(start, len(window.rows), window.total)
        if following is not None:
            reply.next_start_index = following
        return reply

    async def AppendRows(self, request, context):  # noqa: N802, ANN001, ANN201
        if not request.rows:
            raise InvalidArgument("rows", "at least one row is required")
        dataset = self._dataset(context, request.dataset_id)
        rows = [from_struct(row, f"rows[{index}]") for index, row in enumerate(request.rows)]
        total = await self._providers.get(dataset.provider_id).append(dataset, rows)
        return datasetio_pb2.AppendRowsResponse(appended_rows=len(rows), total_rows=total)
