"""The six filtering functions of the contract, over one dialog's candidate scores (pure, no I/O).

Each returns the indices of the kept candidates in candidate order. A score of None (unscored) ranks below every
scored candidate, carries no softmax mass and never passes SIGMOID.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from llama.synthetic_data_generation.v1 import synthetic_data_generation_pb2 as pb
from llama_mesh.runtime.errors import InvalidArgument

Score = float | None

FILTER_NAMES = {
    pb.FILTERING_FUNCTION_NONE: "NONE",
    pb.FILTERING_FUNCTION_RANDOM: "RANDOM",
    pb.FILTERING_FUNCTION_TOP_K: "TOP_K",
    pb.FILTERING_FUNCTION_TOP_P: "TOP_P",
    pb.FILTERING_FUNCTION_TOP_K_TOP_P: "TOP_K_TOP_P",
    pb.FILTERING_FUNCTION_SIGMOID: "SIGMOID",
}
_NEEDS_K = {pb.FILTERING_FUNCTION_RANDOM, pb.FILTERING_FUNCTION_TOP_K, pb.FILTERING_FUNCTION_TOP_K_TOP_P}
_NEEDS_P = {pb.FILTERING_FUNCTION_TOP_P, pb.FILTERING_FUNCTION_TOP_K_TOP_P}
# p and threshold arrive as float32 (0.8 is 0.800000012): a mass or sigmoid within this below them counts as
# reaching them, so that the boundary value a caller wrote is kept.
_FLOAT32_SLACK = 1e-6


@dataclass(frozen=True)
class FilterSpec:
    """A checked filtering function with the parameters it uses (None where it uses none)."""

    function: int
    k: int | None = None
    p: float | None = None
    threshold: float | None = None

    @property
    def name(self) -> str:
        return FILTER_NAMES[self.function]


@dataclass
class FilterOutcome:
    """Kept candidate indices, and how many each stage of a two-stage filter let through."""

    kept: list[int]
    stages: dict[str, int] = field(default_factory=dict)


def filter_spec(request: pb.SynthesizeDataRequest, num_candidates: int) -> FilterSpec:
    """The request's filter, checked: INVALID_ARGUMENT naming k, p or threshold when missing or out of range."""
    function = request.filtering_function or pb.FILTERING_FUNCTION_NONE
    if function not in FILTER_NAMES:
        raise InvalidArgument("filtering_function", f"unknown filtering function {function}")
    k = p = threshold = None
    if function in _NEEDS_K:
        if not request.HasField("k"):
            raise InvalidArgument("k", f"is required by {FILTER_NAMES[function]}: how many candidates to keep")
        if not 1 <= request.k <= num_candidates:
            raise InvalidArgument(
                "k", f"must be in [1, num_candidates={num_candidates}], got {request.k}", limit=num_candidates
            )
        k = request.k
    if function in _NEEDS_P:
        if not request.HasField("p"):
            raise InvalidArgument("p", f"is required by {FILTER_NAMES[function]}: the softmax mass to keep")
        if not (0.0 < request.p <= 1.0) or math.isnan(request.p):
            raise InvalidArgument("p", f"must be in (0, 1], got {request.p:g}")
        p = float(request.p)
    if function == pb.FILTERING_FUNCTION_SIGMOID:
        if not request.HasField("threshold"):
            raise InvalidArgument("threshold", "is required by SIGMOID: the least sigmoid(score) kept")
        if not (0.0 < request.threshold < 1.0) or math.isnan(request.threshold):
            raise InvalidArgument("threshold", f"must be in (0, 1), got {request.threshold:g}")
        threshold = float(request.threshold)
    return FilterSpec(function, k, p, threshold)


def ranked(scores: Sequence[Score], among: Sequence[int] | None = None) -> list[int]:
    """Candidate indices best first: higher score first, unscored last, ties by the earlier index."""
    indices = range(len(scores)) if among is None else among
    return sorted(indices, key=lambda i: (scores[i] is None, -(scores[i] or 0.0), i))


def softmax_mass(scores: Sequence[Score], among: Sequence[int]) -> dict[int, float]:
    """Softmax of the scored candidates among `among` (unscored ones get no mass)."""
    scored = [i for i in among if scores[i] is not None]
    if not scored:
        return {}
    top = max(scores[i] for i in scored)  # type: ignore[type-var]  # only scored indices here
    weights = {i: math.exp(scores[i] - top) for i in scored}  # type: ignore[operator]
    total = sum(weights.values())
    return {i: weight / total for i, weight in weights.items()}


def top_p(scores: Sequence[Score], p: float, among: Sequence[int]) -> list[int]:
    """The fewest best candidates among `among` whose softmax mass reaches p."""
    mass = softmax_mass(scores, among)
    kept: list[int] = []
    total = 0.0
    for index in ranked(scores, list(mass)):
        kept.append(index)
        total += mass[index]
        if total >= p - _FLOAT32_SLACK:
            break
    return kept


def sigmoid(score: float) -> float:
    if score >= 0:
        return 1.0 / (1.0 + math.exp(-score))
    exp = math.exp(score)
    return exp / (1.0 + exp)


def apply_filter(spec: FilterSpec, scores: Sequence[Score], rng: random.Random) -> FilterOutcome:
    """The candidates of one dialog that `spec` keeps. `rng` is used by RANDOM only."""
    everyone = list(range(len(scores)))
    function = spec.function
    if function == pb.FILTERING_FUNCTION_NONE:
        return FilterOutcome(everyone)
    if function == pb.FILTERING_FUNCTION_RANDOM:
        return FilterOutcome(sorted(rng.sample(everyone, min(spec.k or 0, len(everyone)))))
    if function == pb.FILTERING_FUNCTION_SIGMOID:
        least = (spec.threshold or 0.0) - _FLOAT32_SLACK
        return FilterOutcome([i for i in everyone if scores[i] is not None and sigmoid(scores[i]) >= least])
    if function == pb.FILTERING_FUNCTION_TOP_K:
        return FilterOutcome(sorted(ranked(scores)[: spec.k]))
    if function == pb.FILTERING_FUNCTION_TOP_P:
        return FilterOutcome(sorted(top_p(scores, spec.p or 1.0, everyone)))
    best_k = ranked(scores)[: spec.k]
    kept = sorted(top_p(scores, spec.p or 1.0, best_k))
    return FilterOutcome(kept, {"kept_after_top_k": len(best_k), "kept_after_top_p": len(kept)})
