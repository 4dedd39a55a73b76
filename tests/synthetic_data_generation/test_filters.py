"""The six filtering functions on fixed scores, their parameter checks, and the judge's verdict score."""

from __future__ import annotations

import math
import random

import grpc
import pytest

from llama.synthetic_data_generation.v1 import synthetic_data_generation_pb2 as pb
from llama_mesh.runtime.errors import InvalidArgument
from services.synthetic_data_generation.candidates import derived_seed
from services.synthetic_data_generation.filters import FilterSpec, apply_filter, filter_spec, sigmoid
from services.synthetic_data_generation.scorers import numeric_score, verdict_score

# Candidate 0..5; softmax over the scored ones (2, 1, 0, 0 with 4 unscored... see each test).
SCORES = [1.0, 3.0, None, 2.0, 3.0, -1.0]


def kept(function: int, scores: list[float | None] = SCORES, seed: int = 0, **params: float) -> list[int]:
    request = pb.SynthesizeDataRequest(filtering_function=function, **params)
    return apply_filter(filter_spec(request, len(scores)), scores, random.Random(seed)).kept


def test_none_keeps_every_candidate_even_unscored() -> None:
    assert kept(pb.FILTERING_FUNCTION_NONE) == [0, 1, 2, 3, 4, 5]
    assert kept(pb.FILTERING_FUNCTION_UNSPECIFIED) == [0, 1, 2, 3, 4, 5]


def test_top_k_keeps_the_best_ties_to_the_earlier_and_unscored_last() -> None:
    assert kept(pb.FILTERING_FUNCTION_TOP_K, k=1) == [1]
    assert kept(pb.FILTERING_FUNCTION_TOP_K, k=3) == [1, 3, 4]
    assert kept(pb.FILTERING_FUNCTION_TOP_K, k=5) == [0, 1, 3, 4, 5]
    assert kept(pb.FILTERING_FUNCTION_TOP_K, k=6) == [0, 1, 2, 3, 4, 5]


def test_top_p_keeps_the_fewest_best_whose_softmax_mass_reaches_p() -> None:
    scores: list[float | None] = [math.log(0.1), math.log(0.5), None, math.log(0.3), math.log(0.1)]
    # masses: 0.5 (1), 0.3 (3), 0.1 (0), 0.1 (4); the unscored candidate 2 has none.
    assert kept(pb.FILTERING_FUNCTION_TOP_P, scores, p=0.5) == [1]
    assert kept(pb.FILTERING_FUNCTION_TOP_P, scores, p=0.51) == [1, 3]
    assert kept(pb.FILTERING_FUNCTION_TOP_P, scores, p=0.8) == [1, 3]
    assert kept(pb.FILTERING_FUNCTION_TOP_P, scores, p=0.85) == [0, 1, 3]
    assert kept(pb.FILTERING_FUNCTION_TOP_P, scores, p=1.0) == [0, 1, 3, 4]
    assert kept(pb.FILTERING_FUNCTION_TOP_P, [None, None], p=1.0) == []


def test_top_k_top_p_takes_the_softmax_over_the_k_best_only() -> None:
    scores: list[float | None] = [math.log(0.1), math.log(0.5), math.log(0.3), math.log(0.1)]
    # top 2: 0.5 and 0.3, renormalised to 0.625 and 0.375.
    outcome = apply_filter(
        filter_spec(pb.SynthesizeDataRequest(filtering_function=pb.FILTERING_FUNCTION_TOP_K_TOP_P, k=2, p=0.6), 4),
        scores,
        random.Random(0),
    )
    assert outcome.kept == [1]
    assert outcome.stages == {"kept_after_top_k": 2, "kept_after_top_p": 1}
    assert kept(pb.FILTERING_FUNCTION_TOP_K_TOP_P, scores, k=2, p=0.7) == [1, 2]
    assert kept(pb.FILTERING_FUNCTION_TOP_K_TOP_P, scores, k=3, p=1.0) == [0, 1, 2]


def test_sigmoid_keeps_scores_whose_sigmoid_reaches_the_threshold() -> None:
    assert sigmoid(0.0) == 0.5
    assert kept(pb.FILTERING_FUNCTION_SIGMOID, threshold=0.5) == [0, 1, 3, 4]
    assert kept(pb.FILTERING_FUNCTION_SIGMOID, threshold=sigmoid(2.0)) == [1, 3, 4]
    assert kept(pb.FILTERING_FUNCTION_SIGMOID, threshold=0.99) == []
    assert kept(pb.FILTERING_FUNCTION_SIGMOID, [-800.0, 800.0], threshold=0.5) == [1]


def test_random_keeps_k_chosen_by_the_seed() -> None:
    first = kept(pb.FILTERING_FUNCTION_RANDOM, seed=derived_seed(7, "random-filter", 0), k=3)
    again = kept(pb.FILTERING_FUNCTION_RANDOM, seed=derived_seed(7, "random-filter", 0), k=3)
    assert first == again
    assert len(first) == 3 and first == sorted(first) and set(first) <= set(range(6))
    choices = {tuple(kept(pb.FILTERING_FUNCTION_RANDOM, seed=seed, k=3)) for seed in range(20)}
    assert len(choices) > 1


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"filtering_function": pb.FILTERING_FUNCTION_TOP_K}, "k", "required by TOP_K"),
        ({"filtering_function": pb.FILTERING_FUNCTION_RANDOM}, "k", "required by RANDOM"),
        ({"filtering_function": pb.FILTERING_FUNCTION_TOP_K, "k": 0}, "k", "[1, num_candidates=4]"),
        ({"filtering_function": pb.FILTERING_FUNCTION_TOP_K_TOP_P, "k": 5, "p": 0.5}, "k", "got 5"),
        ({"filtering_function": pb.FILTERING_FUNCTION_TOP_P}, "p", "required by TOP_P"),
        ({"filtering_function": pb.FILTERING_FUNCTION_TOP_K_TOP_P, "k": 2}, "p", "required by TOP_K_TOP_P"),
        ({"filtering_function": pb.FILTERING_FUNCTION_TOP_P, "p": 0.0}, "p", "(0, 1]"),
        ({"filtering_function": pb.FILTERING_FUNCTION_TOP_P, "p": 1.5}, "p", "(0, 1]"),
        ({"filtering_function": pb.FILTERING_FUNCTION_SIGMOID}, "threshold", "required by SIGMOID"),
        ({"filtering_function": pb.FILTERING_FUNCTION_SIGMOID, "threshold": 1.0}, "threshold", "(0, 1)"),
        ({"filtering_function": 99}, "filtering_function", "unknown"),
    ],
)
def test_missing_or_out_of_range_parameters_name_the_field(params: dict, field: str, words: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        filter_spec(pb.SynthesizeDataRequest(**params), 4)
    assert raised.value.field == field
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert words in raised.value.message


def test_filters_ignore_parameters_they_do_not_use() -> None:
    spec = filter_spec(pb.SynthesizeDataRequest(filtering_function=pb.FILTERING_FUNCTION_NONE, k=99, p=7.0), 2)
    assert spec == FilterSpec(pb.FILTERING_FUNCTION_NONE)


def test_verdict_score_is_the_log_odds_of_yes_over_no() -> None:
    top = [("Yes", math.log(0.6)), (" yes", math.log(0.1)), ("No", math.log(0.2)), ("Maybe", math.log(0.05))]
    assert verdict_score(top) == pytest.approx(math.log(0.7 / 0.2))
    assert sigmoid(verdict_score(top) or 0.0) == pytest.approx(0.7 / 0.9)
    # "no" is missing: it counts with the least listed probability.
    assert verdict_score([("Yes", math.log(0.9)), ("The", math.log(0.01))]) == pytest.approx(math.log(90))
    assert verdict_score([("The", -1.0), ("A", -2.0)]) is None
    assert verdict_score([]) is None
    # a probability of 0 is no alternative (its log once made log(0) fail the call)
    assert verdict_score([("Yes", -math.inf), ("No", math.log(0.5)), ("A", math.log(0.1))]) == pytest.approx(
        math.log(0.1 / 0.5)
    )
    assert verdict_score([("Yes", -math.inf), ("No", -math.inf)]) is None


def test_score_values_read_as_numbers() -> None:
    assert [numeric_score(value) for value in (True, False, 3, 0.5, "A", None, float("nan"))] == [
        1.0,
        0.0,
        3.0,
        0.5,
        None,
        None,
        None,
    ]
