"""`client.scoring`: score rows or a whole dataset with registered scoring functions, sync and async.

    reply = client.scoring.score([{"generated_answer": "4", "expected_answer": "4"}], ["basic::equality"])
    print(reply.results["basic::equality"].aggregated_results)
    batch = client.scoring.score_batch("qa", {"basic::subset_of": None}, save_results_dataset=True)

Scoring functions are a list of ids (each with its registered params) or a mapping id -> params (a
ScoringFunctionParams, a dict in its JSON form, or None for the registered params).
"""

# ruff: noqa: ASYNC109 - `timeout` is the gRPC deadline handed to the call, named as grpc.aio names it.

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import json_format

from llama.common.v1 import resources_pb2 as res
from llama.scoring.v1 import scoring_pb2, scoring_pb2_grpc
from llama_mesh.client.datasetio import RowLike, row_structs
from llama_mesh.client.transport import AsyncTransport, Transport

FunctionsLike = Iterable[str] | Mapping[str, res.ScoringFunctionParams | Mapping[str, Any] | None]


def _params(value: res.ScoringFunctionParams | Mapping[str, Any] | None) -> res.ScoringFunctionParams:
    if value is None:
        return res.ScoringFunctionParams()
    if isinstance(value, res.ScoringFunctionParams):
        return value
    return json_format.ParseDict(dict(value), res.ScoringFunctionParams())


def _fill(functions: FunctionsLike, into: Any) -> None:
    items = functions.items() if isinstance(functions, Mapping) else ((name, None) for name in functions)
    for function_id, params in items:
        into[function_id].CopyFrom(_params(params))


def score_request(rows: Iterable[RowLike], functions: FunctionsLike) -> scoring_pb2.ScoreRequest:
    request = scoring_pb2.ScoreRequest(input_rows=row_structs(rows))
    _fill(functions, request.scoring_functions)
    return request


def score_batch_request(dataset_id: str, functions: FunctionsLike, save: bool) -> scoring_pb2.ScoreBatchRequest:
    request = scoring_pb2.ScoreBatchRequest(dataset_id=dataset_id, save_results_dataset=save)
    _fill(functions, request.scoring_functions)
    return request


class Scoring:
    """ScoringService calls through the gateway (blocking)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._stub = scoring_pb2_grpc.ScoringServiceStub(transport.channel)

    def score(
        self, rows: Iterable[RowLike], scoring_functions: FunctionsLike, *, timeout: float | None = None
    ) -> scoring_pb2.ScoreResponse:
        """Per function: one score row per input row and the aggregates."""
        return self._transport.unary(self._stub.Score, score_request(rows, scoring_functions), timeout)

    def score_batch(
        self,
        dataset_id: str,
        scoring_functions: FunctionsLike,
        save_results_dataset: bool = False,
        *,
        timeout: float | None = None,
    ) -> scoring_pb2.ScoreBatchResponse:
        """Score every row of a registered dataset; with save_results_dataset, saved_dataset_id names the copy
        holding the rows and their scores."""
        request = score_batch_request(dataset_id, scoring_functions, save_results_dataset)
        return self._transport.unary(self._stub.ScoreBatch, request, timeout)


class AsyncScoring:
    """The async flavour of `Scoring`."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport
        self._stub = scoring_pb2_grpc.ScoringServiceStub(transport.channel)

    async def score(
        self, rows: Iterable[RowLike], scoring_functions: FunctionsLike, *, timeout: float | None = None
    ) -> scoring_pb2.ScoreResponse:
        return await self._transport.unary(self._stub.Score, score_request(rows, scoring_functions), timeout)

    async def score_batch(
        self,
        dataset_id: str,
        scoring_functions: FunctionsLike,
        save_results_dataset: bool = False,
        *,
        timeout: float | None = None,
    ) -> scoring_pb2.ScoreBatchResponse:
        request = score_batch_request(dataset_id, scoring_functions, save_results_dataset)
        return await self._transport.unary(self._stub.ScoreBatch, request, timeout)
