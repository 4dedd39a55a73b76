"""inline::prompt-injection: flags messages that try to override the model's instructions (prompt injection) or to
talk it out of its rules (jailbreaks), by phrase rules.

A heuristic: it catches the common phrasings, in user and tool messages (tool results are where indirect injections
arrive), not paraphrases a classifier would. An instruction override or jailbreak is an ERROR-level violation; a
prompt-leak request or chat-template role markers inside content are WARN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llama.common.v1 import resources_pb2 as res
from services.safety.provider import Level, SafetyShield, ShieldCall, Violation


@dataclass(frozen=True)
class Rule:
    name: str
    level: Level
    pattern: re.Pattern[str]


def _rule(name: str, level: Level, pattern: str) -> Rule:
    return Rule(name, level, re.compile(pattern, re.IGNORECASE | re.DOTALL))


_EARLIER = r"(?:all\s+|any\s+|the\s+|your\s+|of\s+)*(?:previous|prior|above|earlier|preceding|original|system)"
RULES: tuple[Rule, ...] = (
    _rule(
        "instruction-override",
        Level.ERROR,
        rf"\b(?:ignore|disregard|forget|override|skip)\s+{_EARLIER}\s+(?:instructions?|prompts?|rules|directions|guidelines)",
    ),
    _rule(
        "new-instructions",
        Level.ERROR,
        r"\b(?:from now on|starting now),?\s+you\s+(?:will|must|shall|are)\b.{0,80}\b(?:no|without|ignore)\b",
    ),
    _rule(
        "unrestricted-persona",
        Level.ERROR,
        r"\byou\s+are\s+now\s+(?:DAN\b|an?\s+(?:unrestricted|unfiltered|uncensored|jailbroken)\b|free\s+from\b)",
    ),
    _rule(
        "no-rules-pretence",
        Level.ERROR,
        r"\b(?:pretend|act\s+as\s+if|imagine)\s+(?:that\s+)?you\s+(?:have\s+no|are\s+not\s+bound\s+by|don'?t\s+have)\s+"
        r"(?:rules|restrictions|guidelines|filters|limits)",
    ),
    _rule("developer-mode", Level.ERROR, r"\b(?:developer|god|jailbreak)\s+mode\s+(?:enabled|on|activated)\b"),
    _rule(
        "prompt-leak",
        Level.WARN,
        r"\b(?:reveal|show|print|repeat|output|tell\s+me)\s+(?:me\s+)?(?:your|the)\s+(?:full\s+|hidden\s+|initial\s+)?"
        r"(?:system\s+prompt|hidden\s+instructions|initial\s+instructions|instructions\s+above)",
    ),
    _rule(
        "role-markers",
        Level.WARN,
        r"<\|(?:im_start|start_header_id|system|eot_id)\|>|\[/?INST\]|^\s*#{2,}\s*system\s*:?\s*$",
    ),
)


class PromptInjectionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Roles whose messages are checked.
    roles: list[str] = Field(default_factory=lambda: ["user", "tool"])
    # More ERROR-level rules: Python regular expressions, matched case-insensitively.
    extra_patterns: list[str] = Field(default_factory=list)

    @field_validator("extra_patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from exc
        return patterns


class PromptInjectionShield(SafetyShield):
    def __init__(self, provider_id: str, config: PromptInjectionConfig) -> None:
        super().__init__(provider_id)
        self._roles = set(config.roles)
        extra = tuple(_rule(f"custom-{i + 1}", Level.ERROR, p) for i, p in enumerate(config.extra_patterns))
        self._rules = RULES + extra

    async def prepare(self, shield: res.Shield) -> res.Shield:
        return shield

    def findings(self, call: ShieldCall) -> list[tuple[int, Rule]]:
        """(message index, rule) for each rule a checked message matches."""
        return [
            (index, rule)
            for index, turn in enumerate(call.turns)
            if turn.role in self._roles
            for rule in self._rules
            if rule.pattern.search(turn.text)
        ]

    async def run(self, call: ShieldCall) -> Violation | None:
        found = self.findings(call)
        if not found:
            return None
        names = sorted({rule.name for _, rule in found})
        blocking = any(rule.level == Level.ERROR for _, rule in found)
        return Violation(
            level=Level.ERROR if blocking else Level.WARN,
            user_message="I can't follow instructions that try to override my own."
            if blocking
            else f"This message looks like a prompt-injection attempt ({', '.join(names)}).",
            metadata={
                "violation_type": "prompt_injection",
                "rules": names,
                "message_indexes": sorted({index for index, _ in found}),
            },
        )
