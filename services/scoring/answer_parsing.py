"""Pulling the final answer out of a model's reply with regexes, and normalizing multiple-choice and math answers.

A regex's first group is the answer (the whole match when it has no group); the first regex, in order, that matches
anywhere in the reply wins. Regexes are a caller's input: they run with the `regex` module's timeout, so one that
backtracks catastrophically stops after REGEX_TIMEOUT_S instead of holding a worker thread forever.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction

import regex as timed_re

# Time one regex may take on one reply; caps on what a request may give.
REGEX_TIMEOUT_S = 1.0
MAX_REGEXES = 20
MAX_REGEX_CHARS = 1000


class RegexTimeout(ValueError):
    """A regex did not finish within REGEX_TIMEOUT_S on a reply (a ValueError: the row is refused, naming it)."""


# "Answer: B", "The answer is (C)", "answer is **D**", or a reply that is only the letter.
MULTIPLE_CHOICE_REGEXES: tuple[str, ...] = (
    r"(?i)answer\s*(?:is)?\s*[:：]\s*[\(\[\*]*\s*([A-J])\b",
    r"(?i)answer\s+is\s*[\(\[\*]*\s*([A-J])\b",
    r"^\s*[\(\[\*]*([A-J])[\)\]\*\.]*\s*$",
)
# "The final answer is $\boxed{42}$", "Answer: 3/4"; a \boxed{...} anywhere is tried last.
MATH_REGEXES: tuple[str, ...] = (
    r"(?i)final answer is:?\s*(.+?)\s*(?:\.\s*)?(?:I hope it is correct\.?)?$",
    r"(?i)answer\s*[:：]\s*(.+?)\s*$",
)
_BOXED = "\\boxed{"


def compile_regexes(patterns: Sequence[str]) -> list[timed_re.Pattern[str]]:
    """Compiled patterns (timed_re.error for a bad one, MULTILINE so that `$` ends a line)."""
    return [timed_re.compile(pattern, timed_re.MULTILINE) for pattern in patterns]


def first_match(text: str, regexes: Sequence[timed_re.Pattern[str]]) -> str | None:
    for pattern in regexes:
        try:
            match = pattern.search(text, timeout=REGEX_TIMEOUT_S)
        except TimeoutError as exc:
            raise RegexTimeout(
                f"regex {pattern.pattern[:100]!r} did not finish within {REGEX_TIMEOUT_S:g}s on this reply "
                "(it backtracks too much; make it more specific)"
            ) from exc
        if match:
            return (match.group(1) if pattern.groups else match.group(0)).strip()
    return None


def last_boxed(text: str) -> str | None:
    """The content of the last \\boxed{...}, braces balanced."""
    start = text.rfind(_BOXED)
    if start < 0:
        return None
    depth, begin = 1, start + len(_BOXED)
    for position in range(begin, len(text)):
        if text[position] == "{":
            depth += 1
        elif text[position] == "}":
            depth -= 1
            if depth == 0:
                return text[begin:position]
    return None


def multiple_choice_letter(text: str) -> str:
    return text.strip().strip("()[]*. ").upper()


def math_answer(reply: str, regexes: Sequence[timed_re.Pattern[str]]) -> str | None:
    found = first_match(reply, regexes)
    if found is not None and _BOXED in found:
        found = last_boxed(found)
    if found is None:
        found = last_boxed(reply)
    return found


_TEXT_WRAPPERS = re.compile(r"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}")
_FRAC = re.compile(r"\\[dt]?frac\{([^{}]+)\}\{([^{}]+)\}")
_REMOVED = ("\\left", "\\right", "\\!", "\\,", "\\;", "$", "^\\circ", "^{\\circ}", "\\%", "%", " ")


def normalize_math(answer: str) -> str:
    """A canonical text of a math answer: LaTeX wrappers and spacing removed, fractions as a/b, no thousands commas,
    no "x =" prefix, no trailing period."""
    text = _TEXT_WRAPPERS.sub(r"\1", answer.strip())
    for token in _REMOVED:
        text = text.replace(token, "")
    text = _FRAC.sub(r"\1/\2", text)
    text = re.sub(r"^[a-zA-Z]\s*=", "", text)
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    return text.rstrip(".").lower()


def _number(text: str) -> Fraction | None:
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None


def math_equal(parsed: str, expected: str) -> bool:
    left, right = normalize_math(parsed), normalize_math(expected)
    if left == right:
        return True
    left_number, right_number = _number(left), _number(right)
    return left_number is not None and left_number == right_number
