"""The judge's prompt (a template over row columns) and the reading of its score from the judge's reply."""

from __future__ import annotations

import math
import re
import string
from collections.abc import Sequence
from typing import Any

from llama_mesh.runtime.errors import InvalidArgument
from services.scoring.answer_parsing import first_match
from services.scoring.provider import Row, text_of

DEFAULT_TEMPLATE = (
    "You are grading an answer against the expected answer.\n\n"
    "Question: {input_query}\n"
    "Expected answer: {expected_answer}\n"
    "Answer to grade: {generated_answer}\n\n"
    "How well does the answer to grade match the expected answer, from 0 (not at all) to 5 (fully)? "
    "Reply with one line: Score: <0-5>"
)
DEFAULT_SCORE_REGEXES: tuple[str, ...] = (r"(?i)score\s*[:=]?\s*(\d+(?:\.\d+)?)",)


def template_columns(template: str, field: str) -> tuple[str, ...]:
    """The row columns a template reads ({column} placeholders); INVALID_ARGUMENT for anything but plain names."""
    columns: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InvalidArgument(field, f"not a valid template: {exc} (write literal braces as {{{{ and }}}})") from exc
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise InvalidArgument(field, f"placeholder {{{name}}} must be a plain column name such as {{input_query}}")
        columns.append(name)
    return tuple(dict.fromkeys(columns))


def render(template: str, row: Row) -> str:
    return template.format_map({key: text_of(value) for key, value in row.items()})


class ScoreNotFinite(ValueError):
    """A judge's score that reads as a number but no finite one (nan, inf, or more digits than a float holds)."""


def parse_score(reply: str, regexes: Sequence[re.Pattern[str]]) -> Any:
    """The judge's score: the first group of the first regex that matches (a number when it reads as one), or None.
    RegexTimeout when a regex runs past its time limit; ScoreNotFinite for a number that is not finite."""
    found = first_match(reply, regexes)
    if found is None:
        return None
    try:
        number = float(found)
    except ValueError:
        return found
    if not math.isfinite(number):
        raise ScoreNotFinite(f"the judge's score {found[:40]!r} is not a finite number")
    return number
