"""Scoring a set of rows with several scoring functions: look each up in the registry, check every row has every
column each function needs (before any scoring starts), score, aggregate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from llama.common.v1 import resources_pb2 as res
from llama.common.v1 import scoring_pb2
from llama.registry.v1 import registry_pb2
from llama_mesh.runtime.errors import InvalidArgument
from llama_mesh.runtime.gateway_client import GatewayClient
from services.scoring.aggregations import aggregate
from services.scoring.provider import Row, RowsOrigin, ScoreRow, ScoringCall, ScoringProvider, as_struct
from services.scoring.providers import ScoringProviders

MAX_FUNCTIONS = 50


@dataclass(frozen=True)
class Scoring:
    function: res.ScoringFunction
    params: res.ScoringFunctionParams
    provider: ScoringProvider


class RowsScorer:
    def __init__(self, providers: ScoringProviders, gateway: GatewayClient) -> None:
        self._providers = providers
        self._gateway = gateway

    async def resolve(
        self, requested: Mapping[str, res.ScoringFunctionParams], time_left: float | None = None
    ) -> list[Scoring]:
        """The registered functions a request names, with the params to use (NOT_FOUND for an unknown one)."""
        if not requested:
            raise InvalidArgument("scoring_functions", "name at least one registered scoring function")
        if len(requested) > MAX_FUNCTIONS:
            raise InvalidArgument("scoring_functions", f"at most {MAX_FUNCTIONS} per call, got {len(requested)}")
        resolved: list[Scoring] = []
        for function_id in sorted(requested):
            request = registry_pb2.GetScoringFunctionRequest(scoring_function_id=function_id)
            function = await self._gateway.call(self._gateway.registry.GetScoringFunction, request, time_left)
            given = requested[function_id]
            params = given if given.type != res.SCORING_FUNCTION_TYPE_UNSPECIFIED else function.params
            resolved.append(Scoring(function, params, self._providers.get(function.provider_id)))
        return resolved

    @staticmethod
    def check_columns(scorings: Sequence[Scoring], rows: Sequence[Row], origin: RowsOrigin) -> None:
        for scoring in scorings:
            columns = scoring.provider.required_columns(scoring.function, scoring.params)
            for index, row in enumerate(rows):
                for column in columns:
                    if column not in row:
                        raise origin.missing_column(index, column, scoring.function.identifier)

    async def score(
        self, scorings: Sequence[Scoring], rows: Sequence[Row], origin: RowsOrigin, time_left: float | None
    ) -> dict[str, tuple[list[ScoreRow], scoring_pb2.ScoringResult]]:
        """Function id -> (its score rows, its ScoringResult)."""
        self.check_columns(scorings, rows, origin)
        results: dict[str, tuple[list[ScoreRow], scoring_pb2.ScoringResult]] = {}
        for scoring in scorings:
            function_id = scoring.function.identifier
            call = ScoringCall(scoring.function, scoring.params, rows, origin, time_left)
            score_rows = await scoring.provider.score(call)
            aggregations = list(scoring.params.aggregation_functions) or scoring.provider.default_aggregations(
                scoring.function
            )
            result = scoring_pb2.ScoringResult(
                score_rows=[as_struct(row) for row in score_rows],
                aggregated_results=as_struct(aggregate(score_rows, aggregations, function_id)),
            )
            results[function_id] = (score_rows, result)
        return results
