"""Saving scored rows as a new dataset: registered through the gateway's registry (inline source, the scored
dataset's purpose and provider), then filled with AppendRows; a failed fill unregisters it again."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from llama.common.v1 import resources_pb2 as res
from llama.datasetio.v1 import datasetio_pb2
from llama.registry.v1 import registry_pb2
from llama_mesh.runtime.gateway_client import GatewayClient
from services.scoring.provider import Row, ScoreRow, as_struct

APPEND_CHUNK_ROWS = 500
MAX_IDENTIFIER = 256


def saved_dataset_id(dataset_id: str) -> str:
    suffix = f"-scored-{uuid.uuid4().hex[:8]}"
    return dataset_id[: MAX_IDENTIFIER - len(suffix)] + suffix


def scored_rows(rows: Sequence[Row], scores: Mapping[str, Sequence[ScoreRow]]) -> list[Row]:
    """Each input row plus one column per scoring function holding that function's score row."""
    return [
        {**row, **{function_id: score_rows[index] for function_id, score_rows in scores.items()}}
        for index, row in enumerate(rows)
    ]


async def save_scored_rows(
    gateway: GatewayClient, source: res.Dataset, rows: Sequence[Row], time_left: float | None
) -> str:
    identifier = saved_dataset_id(source.identifier)
    dataset = res.Dataset(
        identifier=identifier,
        provider_id=source.provider_id,
        purpose=source.purpose,
        source=res.DataSource(rows=res.RowsSource()),
    )
    dataset.metadata.update({"scored_dataset_id": source.identifier})
    register = registry_pb2.RegisterDatasetRequest(dataset=dataset)
    await gateway.call(gateway.registry.RegisterDataset, register, time_left)
    try:
        for start in range(0, len(rows), APPEND_CHUNK_ROWS):
            chunk = [as_struct(row) for row in rows[start : start + APPEND_CHUNK_ROWS]]
            append = datasetio_pb2.AppendRowsRequest(dataset_id=identifier, rows=chunk)
            await gateway.call(gateway.datasetio.AppendRows, append, time_left)
    except BaseException:
        unregister = registry_pb2.UnregisterDatasetRequest(dataset_id=identifier)
        await gateway.call(gateway.registry.UnregisterDataset, unregister, time_left)
        raise
    return identifier
