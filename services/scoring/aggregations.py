"""Aggregations of a scoring function's score rows, keyed by name as ScoringResult.aggregated_results holds them.

Rows whose scoring failed (score null) are left out of every aggregate and counted in "num_failed".
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from llama.common.v1 import resources_pb2 as res
from llama_mesh.runtime.errors import InvalidArgument
from services.scoring.provider import ScoreRow, text_of

NAMES = {
    res.AGGREGATION_FUNCTION_ACCURACY: "accuracy",
    res.AGGREGATION_FUNCTION_AVERAGE: "average",
    res.AGGREGATION_FUNCTION_WEIGHTED_AVERAGE: "weighted_average",
    res.AGGREGATION_FUNCTION_MEDIAN: "median",
    res.AGGREGATION_FUNCTION_CATEGORICAL_COUNT: "categorical_count",
}


class _Scores:
    def __init__(self, rows: Sequence[ScoreRow], function_id: str, field: str) -> None:
        self.scored = [row for row in rows if row.get("score") is not None]
        self.failed = len(rows) - len(self.scored)
        self._function_id = function_id
        self._field = field

    def numbers(self, aggregation: str) -> list[float]:
        values: list[float] = []
        for row in self.scored:
            score = row["score"]
            try:
                values.append(float(score))
            except (TypeError, ValueError) as exc:
                raise InvalidArgument(
                    self._field,
                    f"{aggregation} needs numeric scores, but {self._function_id!r} scored {score!r}; use "
                    "categorical_count for labels",
                ) from exc
        return values


def _accuracy(scores: _Scores) -> dict[str, Any]:
    values = scores.numbers("accuracy")
    correct = sum(values)
    return {"accuracy": correct / len(values) if values else 0.0, "num_correct": correct, "num_total": len(values)}


def _average(scores: _Scores) -> dict[str, Any]:
    values = scores.numbers("average")
    return {"average": statistics.fmean(values) if values else None}


def _weighted_average(scores: _Scores) -> dict[str, Any]:
    values = scores.numbers("weighted_average")
    weights = [float(row.get("weight", 1.0)) for row in scores.scored]
    total = sum(weights)
    weighted = sum(value * weight for value, weight in zip(values, weights, strict=True))
    return {"weighted_average": weighted / total if total else None}


def _median(scores: _Scores) -> dict[str, Any]:
    values = scores.numbers("median")
    return {"median": statistics.median(values) if values else None}


def _categorical_count(scores: _Scores) -> dict[str, Any]:
    return {"categorical_count": dict(Counter(text_of(row["score"]) for row in scores.scored))}


_AGGREGATORS: dict[int, Callable[[_Scores], dict[str, Any]]] = {
    res.AGGREGATION_FUNCTION_ACCURACY: _accuracy,
    res.AGGREGATION_FUNCTION_AVERAGE: _average,
    res.AGGREGATION_FUNCTION_WEIGHTED_AVERAGE: _weighted_average,
    res.AGGREGATION_FUNCTION_MEDIAN: _median,
    res.AGGREGATION_FUNCTION_CATEGORICAL_COUNT: _categorical_count,
}


def check_aggregations(aggregations: Sequence[int], field: str) -> None:
    for index, aggregation in enumerate(aggregations):
        if aggregation not in _AGGREGATORS:
            raise InvalidArgument(
                f"{field}[{index}]", f"unknown aggregation {aggregation}; known: {', '.join(NAMES.values())}"
            )


def aggregate(rows: Sequence[ScoreRow], aggregations: Sequence[int], function_id: str) -> dict[str, Any]:
    """{"accuracy": {...}, "median": {...}, ...} for each aggregation asked for."""
    field = f"scoring_functions[{function_id}].aggregation_functions"
    check_aggregations(aggregations, field)
    scores = _Scores(rows, function_id, field)
    results: dict[str, Any] = {}
    for aggregation in dict.fromkeys(aggregations):
        result = _AGGREGATORS[aggregation](scores)
        if scores.failed:
            result["num_failed"] = scores.failed
        results[NAMES[aggregation]] = result
    return results
