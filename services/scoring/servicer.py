"""llama.scoring.v1.ScoringService: Score (rows in the request) and ScoreBatch (a dataset's rows, read through the
gateway's datasetio API, optionally saved back with their scores as a new dataset)."""

from __future__ import annotations

from google.protobuf import struct_pb2

from llama.datasetio.v1 import datasetio_pb2
from llama.registry.v1 import registry_pb2
from llama.scoring.v1 import scoring_pb2, scoring_pb2_grpc
from llama_mesh.runtime.channels import remaining_timeout
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument
from llama_mesh.runtime.gateway_client import Deadline, GatewayClient
from llama_mesh.runtime.struct_values import struct_dict
from services.scoring.provider import RowsOrigin
from services.scoring.rows_scoring import RowsScorer
from services.scoring.saved_results import save_scored_rows, scored_rows

MAX_INPUT_ROWS = 10_000
# Rows of a dataset ScoreBatch scores (all of them held in memory at once); a bigger dataset is refused while paging.
MAX_DATASET_ROWS = MAX_INPUT_ROWS
# Rows read from datasetio per call.
PAGE_ROWS = 1000


class ScoringServicer(scoring_pb2_grpc.ScoringServiceServicer):
    def __init__(self, scorer: RowsScorer, gateway: GatewayClient) -> None:
        self._scorer = scorer
        self._gateway = gateway

    async def Score(self, request, context):  # noqa: N802, ANN001, ANN201 - gRPC method
        if not request.input_rows:
            raise InvalidArgument("input_rows", "at least one row is required")
        if len(request.input_rows) > MAX_INPUT_ROWS:
            raise InvalidArgument(
                "input_rows", f"at most {MAX_INPUT_ROWS} rows per call; use ScoreBatch over a dataset for more"
            )
        scorings = await self._scorer.resolve(request.scoring_functions, remaining_timeout(context))
        rows = [struct_dict(row, f"input_rows[{index}]") for index, row in enumerate(request.input_rows)]
        results = await self._scorer.score(scorings, rows, RowsOrigin(), remaining_timeout(context))
        return scoring_pb2.ScoreResponse(results={key: result for key, (_, result) in results.items()})

    async def ScoreBatch(self, request, context):  # noqa: N802, ANN001, ANN201
        if not request.dataset_id:
            raise InvalidArgument("dataset_id", "is required")
        scorings = await self._scorer.resolve(request.scoring_functions, remaining_timeout(context))
        gateway = self._gateway
        lookup = registry_pb2.GetDatasetRequest(dataset_id=request.dataset_id)
        dataset = await gateway.call(gateway.registry.GetDataset, lookup, context)
        rows = [struct_dict(row, "dataset_id") for row in await _all_rows(gateway, dataset.identifier, context)]
        if not rows:
            raise FailedPrecondition(
                f"dataset {dataset.identifier!r} has no rows to score",
                reason="EMPTY_DATASET",
                dataset_id=dataset.identifier,
            )
        origin = RowsOrigin(dataset_id=dataset.identifier)
        results = await self._scorer.score(scorings, rows, origin, remaining_timeout(context))
        reply = scoring_pb2.ScoreBatchResponse(results={key: result for key, (_, result) in results.items()})
        if request.save_results_dataset:
            scores = {key: score_rows for key, (score_rows, _) in results.items()}
            reply.saved_dataset_id = await save_scored_rows(
                self._gateway, dataset, scored_rows(rows, scores), remaining_timeout(context)
            )
        return reply


async def _all_rows(gateway: GatewayClient, dataset_id: str, deadline: Deadline) -> list[struct_pb2.Struct]:
    """Every row of a dataset, page after page; FAILED_PRECONDITION once it has more than MAX_DATASET_ROWS (at most
    one row past them is read)."""
    rows: list[struct_pb2.Struct] = []
    start = 0
    while True:
        limit = min(PAGE_ROWS, MAX_DATASET_ROWS + 1 - len(rows))
        request = datasetio_pb2.IterRowsRequest(dataset_id=dataset_id, start_index=start, limit=limit)
        page = await gateway.call(gateway.datasetio.IterRows, request, deadline)
        rows.extend(page.rows)
        if len(rows) > MAX_DATASET_ROWS:
            raise FailedPrecondition(
                f"dataset {dataset_id!r} has more than {MAX_DATASET_ROWS} rows, the most ScoreBatch scores in one "
                "call: score a smaller dataset, or its rows in parts with Score",
                reason="DATASET_TOO_LARGE",
                dataset_id=dataset_id,
            )
        if not page.HasField("next_start_index"):
            return rows
        start = page.next_start_index
