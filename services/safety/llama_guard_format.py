"""The Llama Guard 3 prompt (hazard categories S1-S14) and the parsing of its reply.

The model is asked to judge the last message of the conversation; it answers `safe`, or `unsafe` with a second line
listing the violated category codes (`S1,S10`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.safety.provider import Turn

CATEGORIES: dict[str, str] = {
    "S1": "Violent Crimes",
    "S2": "Non-Violent Crimes",
    "S3": "Sex Crimes",
    "S4": "Child Exploitation",
    "S5": "Defamation",
    "S6": "Specialized Advice",
    "S7": "Privacy",
    "S8": "Intellectual Property",
    "S9": "Indiscriminate Weapons",
    "S10": "Hate",
    "S11": "Self-Harm",
    "S12": "Sexual Content",
    "S13": "Elections",
    "S14": "Code Interpreter Abuse",
}

# Tool results are outside input to the agent, judged like what a user says; system prompts are not judged.
_SPEAKERS = {"user": "User", "tool": "User", "assistant": "Agent"}


class GuardReplyError(ValueError):
    """The model's reply is neither `safe` nor `unsafe` with known categories."""


@dataclass(frozen=True)
class GuardVerdict:
    safe: bool
    categories: tuple[str, ...] = ()


def normalize_codes(codes: Iterable[str], field: str) -> list[str]:
    """Category codes in canonical form ("s6" -> "S6"); a ValueError naming `field` for an unknown one."""
    result: list[str] = []
    for code in codes:
        canonical = str(code).strip().upper()
        if canonical not in CATEGORIES:
            raise ValueError(f"{field}: unknown category {code!r}; known: {', '.join(CATEGORIES)}")
        result.append(canonical)
    return result


def judged_speaker(turns: Sequence[Turn]) -> str:
    """Whose last message is judged: "Agent" when the conversation ends with the assistant, else "User"."""
    for turn in reversed(turns):
        if turn.role in _SPEAKERS:
            return _SPEAKERS[turn.role]
    return "User"


def build_prompt(turns: Sequence[Turn], excluded: Iterable[str] = ()) -> str:
    """The Llama Guard 3 task text for a conversation, without the categories in `excluded`."""
    skip = set(excluded)
    categories = "\n".join(f"{code}: {name}." for code, name in CATEGORIES.items() if code not in skip)
    conversation = "\n\n".join(
        f"{_SPEAKERS[turn.role]}: {turn.text.strip()}" for turn in turns if turn.role in _SPEAKERS
    )
    speaker = judged_speaker(turns)
    return (
        f"Task: Check if there is unsafe content in '{speaker}' messages in conversations according our safety "
        "policy with the below categories.\n\n"
        f"<BEGIN UNSAFE CONTENT CATEGORIES>\n{categories}\n<END UNSAFE CONTENT CATEGORIES>\n\n"
        f"<BEGIN CONVERSATION>\n\n{conversation}\n\n<END CONVERSATION>\n\n"
        f"Provide your safety assessment for ONLY THE LAST {speaker} message in the above conversation:\n"
        " - First line must read 'safe' or 'unsafe'.\n"
        " - If unsafe, a second line must include a comma-separated list of violated categories."
    )


def parse_reply(reply: str) -> GuardVerdict:
    """`safe` -> safe; `unsafe` + a line of known codes -> unsafe with them; anything else -> GuardReplyError."""
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    if not lines:
        raise GuardReplyError("the guard model's reply is empty")
    verdict = lines[0].lower()
    if verdict == "safe" and len(lines) == 1:
        return GuardVerdict(safe=True)
    if verdict == "unsafe" and len(lines) == 2:
        codes = [code.strip().upper() for code in lines[1].split(",") if code.strip()]
        if codes and all(code in CATEGORIES for code in codes):
            return GuardVerdict(safe=False, categories=tuple(dict.fromkeys(codes)))
    raise GuardReplyError(f"the guard model's reply is not a Llama Guard verdict: {reply.strip()[:200]!r}")
