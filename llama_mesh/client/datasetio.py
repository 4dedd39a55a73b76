"""`client.datasetio`: read a dataset's rows in pages (or all of them) and append rows, sync and async.

page = client.datasetio.iter_rows("qa", start_index=0, limit=50)   # IterRowsResponse
for row in client.datasetio.rows("qa"):                            # every row as a dict, page after page
    print(row["input_query"])
client.datasetio.append_rows("qa", [{"input_query": "2+2?", "expected_answer": "4"}])
"""

# ruff: noqa: ASYNC109 - `timeout` is the gRPC deadline handed to the call, named as grpc.aio names it.

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

from google.protobuf import json_format, struct_pb2

from llama.datasetio.v1 import datasetio_pb2, datasetio_pb2_grpc
from llama_mesh.client.transport import AsyncTransport, Transport

RowLike = Mapping[str, Any] | struct_pb2.Struct


def row_structs(rows: Iterable[RowLike]) -> list[struct_pb2.Struct]:
    """Rows as Structs (dicts are converted; Structs are kept)."""
    structs: list[struct_pb2.Struct] = []
    for row in rows:
        if isinstance(row, struct_pb2.Struct):
            structs.append(row)
            continue
        struct = struct_pb2.Struct()
        struct.update(dict(row))
        structs.append(struct)
    return structs


def row_dicts(page: datasetio_pb2.IterRowsResponse) -> list[dict[str, Any]]:
    return [json_format.MessageToDict(row) for row in page.rows]


def _iter_request(dataset_id: str, start_index: int, limit: int) -> datasetio_pb2.IterRowsRequest:
    return datasetio_pb2.IterRowsRequest(dataset_id=dataset_id, start_index=start_index, limit=limit)


class DatasetIO:
    """DatasetIOService calls through the gateway (blocking)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._stub = datasetio_pb2_grpc.DatasetIOServiceStub(transport.channel)

    def iter_rows(
        self, dataset_id: str, start_index: int = 0, limit: int = 0, *, timeout: float | None = None
    ) -> datasetio_pb2.IterRowsResponse:
        """One page: up to `limit` rows (0: 100, at most 1000) from `start_index`, with next_start_index and
        total_rows."""
        return self._transport.unary(self._stub.IterRows, _iter_request(dataset_id, start_index, limit), timeout)

    def rows(self, dataset_id: str, *, page_size: int = 1000, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Every row of the dataset as a dict, fetching page after page."""
        start = 0
        while True:
            page = self.iter_rows(dataset_id, start, page_size, timeout=timeout)
            yield from row_dicts(page)
            if not page.HasField("next_start_index"):
                return
            start = page.next_start_index

    def append_rows(
        self, dataset_id: str, rows: Iterable[RowLike], *, timeout: float | None = None
    ) -> datasetio_pb2.AppendRowsResponse:
        """Append rows (dicts or Structs) at the end of the dataset, all or none."""
        request = datasetio_pb2.AppendRowsRequest(dataset_id=dataset_id, rows=row_structs(rows))
        return self._transport.unary(self._stub.AppendRows, request, timeout)


class AsyncDatasetIO:
    """The async flavour of `DatasetIO`."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport
        self._stub = datasetio_pb2_grpc.DatasetIOServiceStub(transport.channel)

    async def iter_rows(
        self, dataset_id: str, start_index: int = 0, limit: int = 0, *, timeout: float | None = None
    ) -> datasetio_pb2.IterRowsResponse:
        request = _iter_request(dataset_id, start_index, limit)
        return await self._transport.unary(self._stub.IterRows, request, timeout)

    async def rows(
        self, dataset_id: str, *, page_size: int = 1000, timeout: float | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        start = 0
        while True:
            page = await self.iter_rows(dataset_id, start, page_size, timeout=timeout)
            for row in row_dicts(page):
                yield row
            if not page.HasField("next_start_index"):
                return
            start = page.next_start_index

    async def append_rows(
        self, dataset_id: str, rows: Iterable[RowLike], *, timeout: float | None = None
    ) -> datasetio_pb2.AppendRowsResponse:
        request = datasetio_pb2.AppendRowsRequest(dataset_id=dataset_id, rows=row_structs(rows))
        return await self._transport.unary(self._stub.AppendRows, request, timeout)
