"""Final answers parsed from replies: multiple-choice letters and math answers, compared as math."""

from __future__ import annotations

import pytest

from llama_mesh.runtime.errors import InvalidArgument
from services.scoring.answer_parsing import (
    MATH_REGEXES,
    MAX_REGEX_CHARS,
    MAX_REGEXES,
    MULTIPLE_CHOICE_REGEXES,
    RegexTimeout,
    compile_regexes,
    first_match,
    last_boxed,
    math_answer,
    math_equal,
    multiple_choice_letter,
)
from services.scoring.providers.basic import compiled

CHOICE = compile_regexes(MULTIPLE_CHOICE_REGEXES)
MATH = compile_regexes(MATH_REGEXES)


@pytest.mark.parametrize(
    ("reply", "letter"),
    [
        ("Answer: C", "C"),
        ("The answer is (B).", "B"),
        ("so the answer is **d**", "D"),
        ("Answer：A", "A"),
        ("E", "E"),
        ("(C)", "C"),
        ("I would pick a sandwich.", None),
    ],
)
def test_multiple_choice_letters(reply: str, letter: str | None) -> None:
    found = first_match(reply, CHOICE)
    assert (multiple_choice_letter(found) if found is not None else None) == letter


def test_boxed_answers_keep_nested_braces() -> None:
    assert last_boxed("first \\boxed{1}, then \\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"
    assert last_boxed("\\boxed{unclosed") is None


@pytest.mark.parametrize(
    ("reply", "parsed"),
    [
        ("The final answer is $\\boxed{\\frac{3}{4}}$. I hope it is correct.", "\\frac{3}{4}"),
        ("Answer: 12", "12"),
        ("we get \\boxed{7}", "7"),
        ("no answer here", None),
    ],
)
def test_math_answers(reply: str, parsed: str | None) -> None:
    assert math_answer(reply, MATH) == parsed


@pytest.mark.parametrize(
    ("parsed", "expected", "equal"),
    [
        ("\\frac{1}{2}", "0.5", True),
        ("\\dfrac{2}{4}", "1/2", True),
        ("1,000", "1000", True),
        ("x = 5", "5", True),
        ("90^\\circ", "90", True),
        ("\\text{blue}", "Blue", True),
        ("3", "4", False),
        ("\\sqrt{2}", "1.41", False),
    ],
)
def test_math_equality(parsed: str, expected: str, equal: bool) -> None:
    assert math_equal(parsed, expected) is equal


def test_a_catastrophically_backtracking_regex_stops_at_its_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """(a|aa)+$ on many a's and a b backtracks for ages (with `re` too); here it stops at the time limit."""
    from services.scoring import answer_parsing

    monkeypatch.setattr(answer_parsing, "REGEX_TIMEOUT_S", 0.2)
    evil = compile_regexes([r"^(a|aa)+$"])
    with pytest.raises(RegexTimeout, match="did not finish"):
        first_match("a" * 60 + "b", evil)


def test_regex_caps_are_invalid_arguments() -> None:
    with pytest.raises(InvalidArgument):
        compiled(["x"] * (MAX_REGEXES + 1), "parsing_regexes")
    with pytest.raises(InvalidArgument) as caught:
        compiled(["ok", "y" * (MAX_REGEX_CHARS + 1)], "parsing_regexes")
    assert caught.value.field == "parsing_regexes[1]"
    with pytest.raises(InvalidArgument) as caught:
        compiled(["ok", "(unclosed"], "parsing_regexes")
    assert caught.value.field == "parsing_regexes[1]"
