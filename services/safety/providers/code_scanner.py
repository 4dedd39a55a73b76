"""inline::code-scanner: flags insecure Python in messages (fenced code blocks, or a whole message that is code)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from llama.common.v1 import resources_pb2 as res
from services.safety.code_rules import HIGH, Finding, scan_python
from services.safety.provider import Level, SafetyShield, ShieldCall, Turn, Violation

_FENCE = re.compile(r"```[ \t]*([\w+.-]*)[^\n]*\n(.*?)```", re.DOTALL)
_PYTHON_TAGS = {"", "python", "py", "python3", "py3", "ipython", "pycon"}
MAX_FINDINGS = 50


class CodeScannerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


def code_blocks(text: str) -> list[str]:
    """Python blocks of a message: its fenced blocks tagged as Python (or untagged); with no fence, the whole text."""
    fenced = list(_FENCE.finditer(text))
    if fenced:
        return [match.group(2) for match in fenced if match.group(1).lower() in _PYTHON_TAGS]
    return [text]


def scan_turns(turns: list[Turn]) -> list[tuple[int, Finding]]:
    """(message index, finding) for every finding in the conversation's code."""
    found: list[tuple[int, Finding]] = []
    for index, turn in enumerate(turns):
        for block in code_blocks(turn.text):
            found.extend((index, finding) for finding in scan_python(block) or [])
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
