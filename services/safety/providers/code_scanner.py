"""inline::code-scanner: flags insecure Python in messages (fenced code blocks, or a whole message that is code).

It fails closed: a fenced block is dedented first (a fence indented in a list item), and a Python block that still does
not parse cannot be checked, so it is refused (`unparseable-code`); an untagged fenced block that does not parse is
refused when it calls one of the functions the rules watch, a whole message (no fence) only warned about; otherwise they
pass (prose, or another language)."""

from __future__ import annotations

import asyncio
import re
import textwrap
from typing import Any

from pydantic import BaseModel, ConfigDict

from llama.common.v1 import resources_pb2 as res
from services.safety.code_rules import HIGH, MEDIUM, Finding, scan_python
from services.safety.provider import Level, SafetyShield, ShieldCall, Turn, Violation

_FENCE = re.compile(r"```[ \t]*([\w+.-]*)[^\n]*\n(.*?)```", re.DOTALL)
_PYTHON_TAGS = {"", "python", "py", "python3", "py3", "ipython", "pycon"}
MAX_FINDINGS = 50
# Calls the rules watch, as text: what makes code that cannot be parsed worth refusing.
_RISKY_CALL = re.compile(
    r"\b(?:os\.(?:system|popen|exec\w*|spawn\w*)|subprocess\.\w+|eval|exec|__import__|compile|"
    r"(?:c?pickle|dill|marshal)\.loads?|shelve\.open|yaml\.load|hashlib\.(?:md5|sha1|new))\s*\("
)


class CodeScannerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


def code_blocks(text: str) -> list[tuple[str | None, str]]:
    """(tag, code) of the Python blocks of a message: its fenced blocks tagged as Python ("" when untagged), dedented;
    with no fence, (None, the whole text)."""
    fenced = list(_FENCE.finditer(text))
    if fenced:
        return [
            (match.group(1).lower(), textwrap.dedent(match.group(2)))
            for match in fenced
            if match.group(1).lower() in _PYTHON_TAGS
        ]
    return [(None, text)]


def scan_block(tag: str | None, code: str) -> list[Finding]:
    """The findings in one block; code that does not parse fails closed (see the module doc)."""
    findings = scan_python(code)
    if findings is not None:
        return findings
    risky = _RISKY_CALL.search(code)
    if not risky and not tag:
        return []  # prose, or an untagged block of another language
    line = code.count("\n", 0, risky.start()) + 1 if risky else 1
    called = f" and calls {risky.group(0).rstrip('( ')}()" if risky else ""
    return [
        Finding(
            "unparseable-code",
            HIGH if tag is not None else MEDIUM,  # a whole message that mentions eval() may be a question
            line,
            f"this code is not valid Python{called}, so it could not be checked",
        )
    ]


def scan_turns(turns: list[Turn]) -> list[tuple[int, Finding]]:
    """(message index, finding) for every finding in the conversation's code."""
    found: list[tuple[int, Finding]] = []
    for index, turn in enumerate(turns):
        for tag, code in code_blocks(turn.text):
            found.extend((index, finding) for finding in scan_block(tag, code))
    return found


class CodeScannerShield(SafetyShield):
    def __init__(self, provider_id: str, config: CodeScannerConfig) -> None:
        super().__init__(provider_id)
        self._config = config

    async def prepare(self, shield: res.Shield) -> res.Shield:
        return shield

    async def run(self, call: ShieldCall) -> Violation | None:
        found = await asyncio.to_thread(scan_turns, call.turns)  # parsing large code is CPU work
        if not found:
            return None
        high = any(finding.severity == HIGH for _, finding in found)
        rules = sorted({finding.rule for _, finding in found})
        findings: list[dict[str, Any]] = [
            {**finding.as_dict(), "message_index": index} for index, finding in found[:MAX_FINDINGS]
        ]
        return Violation(
            level=Level.ERROR if high else Level.WARN,
            user_message=f"Insecure code found ({', '.join(rules)}); it was not accepted."
            if high
            else f"Possibly insecure code found ({', '.join(rules)}).",
            metadata={"violation_type": "insecure_code", "rules": rules, "findings": findings},
        )
