"""llama.scoring.v1.ScoringService: Score (rows in the request) and ScoreBatch (a dataset's rows, read through the
gateway's datasetio API, optionally saved back with their scores as a new dataset)."""

from __future__ import annotations

from google.protobuf import json_format

from llama.scoring.v1 import scoring_pb2, scoring_pb2_grpc
from llama_mesh.runtime.channels import remaining_timeout
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument
from services.scoring.gateway_calls import GatewayCalls
from services.scoring.rows_scoring import RowsScorer
from services.scoring.saved_results import save_scored_rows, scored_rows
from services.scoring.provider import RowsOrigin

MAX_INPUT_ROWS = 10_000


class ScoringServicer(scoring_pb2_grpc.ScoringServiceServicer):
    def __init__(self, scorer: RowsScorer, gateway: GatewayCalls) -> None:
        self._scorer = scorer
        self._gateway = gateway

    async def Score(self, request, context):  # noqa: N802, ANN001, ANN201 - gRPC method
        if not request.input_rows:
            raise InvalidArgument("input_rows", "at least one row is required")
        if len(request.input_rows) > MAX_INPUT_ROWS:
            raise InvalidArgument(
                "input_rows", f"at most {MAX_INPUT_ROWS} rows per call; use ScoreBatch over a dataset for more"
            )
        scorings = await self._scorer.resolve(request.scoring_functions)
        rows = [json_format.MessageToDict(row) for row in request.input_rows]
        results = await self._scorer.score(scorings, rows, RowsOrigin(), remaining_timeout(context))
        return scoring_pb2.ScoreResponse(results={key: result for key, (_, result) in results.items()})

    async def ScoreBatch(self, request, context):  # noqa: N802, ANN001, ANN201
        if not request.dataset_id:
            raise InvalidArgument("dataset_id", "is required")
        scorings = await self._scorer.resolve(request.scoring_functions)
        dataset = await self._gateway.dataset(request.dataset_id)
        time_left = remaining_timeout(context)
        rows = [json_format.MessageToDict(row) for row in await self._gateway.all_rows(dataset.identifier, time_left)]
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
