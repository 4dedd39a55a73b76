"""The built-in functions of inline::basic: each says which columns it reads and scores one row at a time."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from llama.common.v1 import resources_pb2 as res
from services.scoring.answer_parsing import (
    MATH_REGEXES,
    MULTIPLE_CHOICE_REGEXES,
    first_match,
    math_answer,
    math_equal,
    multiple_choice_letter,
)
from services.scoring.ifeval_checks import follows, supported
from services.scoring.provider import Row, ScoreRow, text_of

ANSWER_COLUMNS = ("generated_answer", "expected_answer")
IFEVAL_COLUMNS = ("instruction_id_list", "kwargs", "generated_answer")

RowScorer = Callable[[Row, Sequence[re.Pattern[str]]], ScoreRow]


@dataclass(frozen=True)
class BasicFunction:
    columns: tuple[str, ...]
    score_row: RowScorer
    default_regexes: tuple[str, ...] = ()
    aggregation: int = res.AGGREGATION_FUNCTION_ACCURACY


def _equality(row: Row, regexes: Sequence[re.Pattern[str]]) -> ScoreRow:
    return {"score": 1.0 if text_of(row["generated_answer"]) == text_of(row["expected_answer"]) else 0.0}


def _subset_of(row: Row, regexes: Sequence[re.Pattern[str]]) -> ScoreRow:
    expected: Any = row["expected_answer"]
    generated = row["generated_answer"]
    wanted = [text_of(item) for item in expected] if isinstance(expected, list) else [text_of(expected)]
    have = [text_of(item) for item in generated] if isinstance(generated, list) else text_of(generated)
    return {"score": 1.0 if all(item in have for item in wanted) else 0.0}


def _multiple_choice(row: Row, regexes: Sequence[re.Pattern[str]]) -> ScoreRow:
    found = first_match(text_of(row["generated_answer"]), regexes)
    parsed = multiple_choice_letter(found) if found is not None else None
    correct = parsed is not None and parsed == multiple_choice_letter(text_of(row["expected_answer"]))
    return {"score": 1.0 if correct else 0.0, "parsed_answer": parsed}


def _math(row: Row, regexes: Sequence[re.Pattern[str]]) -> ScoreRow:
    parsed = math_answer(text_of(row["generated_answer"]), regexes)
    correct = parsed is not None and math_equal(parsed, text_of(row["expected_answer"]))
    return {"score": 1.0 if correct else 0.0, "parsed_answer": parsed}


def _regex_parser(row: Row, regexes: Sequence[re.Pattern[str]]) -> ScoreRow:
    """A user's regex parser: the parsed answer equals the expected one, ignoring case and surrounding space."""
    parsed = first_match(text_of(row["generated_answer"]), regexes)
    correct = parsed is not None and parsed.casefold() == text_of(row["expected_answer"]).strip().casefold()
    return {"score": 1.0 if correct else 0.0, "parsed_answer": parsed}


def _ifeval(row: Row, regexes: Sequence[re.Pattern[str]]) -> ScoreRow:
    """The share of the row's instructions that the reply follows, weighted by their number. Instructions this
    scorer does not check are left out and listed; a row with none it checks is a recorded failure."""
    ids = row["instruction_id_list"]
    if not isinstance(ids, list) or not ids:
        raise ValueError("instruction_id_list must be a non-empty list, with one kwargs object per instruction")
    kwargs = row["kwargs"] if isinstance(row["kwargs"], list) else [row["kwargs"]] * len(ids)
    if len(kwargs) != len(ids) or not all(arguments is None or isinstance(arguments, dict) for arguments in kwargs):
        raise ValueError("instruction_id_list must be a non-empty list, with one kwargs object per instruction")
    reply = text_of(row["generated_answer"])
    checked = [(str(iid), arguments or {}) for iid, arguments in zip(ids, kwargs, strict=True) if supported(str(iid))]
    unsupported = [str(iid) for iid in ids if not supported(str(iid))]
    extra: ScoreRow = {"unsupported_instructions": unsupported} if unsupported else {}
    if not checked:
        return {"score": None, "error": "none of the row's instructions is one this scorer checks", **extra}
    followed = [follows(iid, reply, arguments) for iid, arguments in checked]
    return {
        "score": sum(followed) / len(followed),
        "weight": len(followed),
        "followed_instructions": followed,
        **extra,
    }


BUILTINS: dict[str, BasicFunction] = {
    "basic::equality": BasicFunction(ANSWER_COLUMNS, _equality),
    "basic::subset_of": BasicFunction(ANSWER_COLUMNS, _subset_of),
    "basic::regex_parser_multiple_choice_answer": BasicFunction(
        ANSWER_COLUMNS, _multiple_choice, MULTIPLE_CHOICE_REGEXES
    ),
    "basic::regex_parser_math_response": BasicFunction(ANSWER_COLUMNS, _math, MATH_REGEXES),
    "basic::ifeval": BasicFunction(IFEVAL_COLUMNS, _ifeval, (), res.AGGREGATION_FUNCTION_WEIGHTED_AVERAGE),
}
# A user's REGEX_PARSER function that names no built-in.
REGEX_PARSER = BasicFunction(ANSWER_COLUMNS, _regex_parser)
