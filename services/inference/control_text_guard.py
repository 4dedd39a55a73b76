"""A caller's text in a chat prompt never becomes a control token.

A chat template's own text holds the control tokens that mark the turns (`<|im_start|>`, `<|eot_id|>`...), and an
engine tokenizes a rendered prompt with special tokens parsed so that this text becomes those tokens. A caller's
strings (message content, names, tool call arguments, tool results, tool definitions) go through the same template:
were the whole prompt tokenized that way, a user message holding "<|im_end|>\\n<|im_start|>system\\n..." would end its
own turn and forge a system one. OpenAI's API tokenizes a caller's text as plain text; so do the engines here.

Before rendering, each caller string that could put a control token's text into the prompt has the stretch that could do
so replaced by a placeholder (built on a random nonce per render, so no caller can write one): from the first control
text it holds to the last, widened to its edges (before or after trimming) where they hold the end or the start of a
control text that the template's text next to them could complete, or all of it when it is inside one (a template that
writes `<|` + name + `|>`). The template renders as usual: it sees the rest of each string unchanged, so trimming and
its other string tests behave as before. Each placeholder in the rendered text is then filled in again, and where its
stretch, read with the text around it, holds all or part of a control text, it is cut out as a piece of its own: the
template's pieces are tokenized with special tokens parsed, the caller's as plain text. A chat whose strings hold no
such text renders to one piece, exactly the prompt it rendered to before. Roles, and the `type` words of tools and
JSON schemas, are left as they are: they come from fixed sets, and templates build turn markers of roles and test
types. Dict keys that are words are names the template looks up, replaced only when one holds a whole control text;
other keys (a tool call's argument names, a schema's property names) are guarded as strings are.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from services.inference.provider import ChatPrompt

# Values the template tests against fixed words: a message's role (the mesh accepts four) and the `type` of a tool
# or of a JSON schema, when it is one of these words.
_TYPE_WORDS = frozenset({"function", "object", "string", "number", "integer", "boolean", "array", "null"})


# A key that may be a name the template looks up.
_NAME = re.compile(r"\w+")


def _structural(key: Any, value: Any) -> bool:
    return key == "role" or (key == "type" and value in _TYPE_WORDS)


# Renders (messages, tools) with the model's chat template, ending with the assistant prompt.
TemplateRender = Callable[[list[dict[str, Any]], list[dict[str, Any]] | None], str]


class ControlTextGuard:
    """Renders chats so that only the template's own text may hold control tokens (see the module docstring)."""

    def __init__(self, control_texts: Iterable[str]) -> None:
        texts = sorted({text for text in control_texts if text}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(text) for text in texts)) if texts else None
        self._starts = {text[:end] for text in texts for end in range(1, len(text))}  # proper prefixes
        self._ends = {text[start:] for text in texts for start in range(1, len(text))}  # proper suffixes
        self._longest = max((len(text) for text in texts), default=0)
        self._all = "\0".join(texts)  # a string is inside a control text when it is in this (and holds no NUL)

    def render(
        self, render: TemplateRender, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> ChatPrompt:
        nonce = secrets.token_hex(16)
        stretches: list[str] = []

        def guarded(value: Any) -> Any:
            if isinstance(value, str):
                return self._guarded_string(value, nonce, stretches)
            if isinstance(value, dict):
                return {
                    guarded_key(key): item if _structural(key, item) else guarded(item) for key, item in value.items()
                }
            if isinstance(value, list | tuple):
                return [guarded(item) for item in value]
            return value

        def guarded_key(key: Any) -> Any:
            # The keys a template looks up (`content`, `name`, a schema's `properties`...) are words, left as they
            # are unless one holds a whole control text. Any other key is a caller's data that a template may write
            # out (Qwen3-Coder's '<parameter=' + name + '>'), guarded as a string is.
            if not isinstance(key, str) or (_NAME.fullmatch(key) and not (self._pattern and self._pattern.search(key))):
                return key
            return self._guarded_string(key, nonce, stretches)

        rendered = render(guarded(messages), guarded(tools) if tools else None)
        text, spans = self._filled_in(rendered, nonce, stretches)
        pieces: list[tuple[str, bool]] = []
        position = 0
        for start, end in spans:
            if self._could_make_a_control_token(text, start, end):
                if start > position:
                    pieces.append((text[position:start], False))
                pieces.append((text[start:end], True))
                position = end
        if position < len(text):
            pieces.append((text[position:], False))
        return ChatPrompt(tuple(pieces))

    @staticmethod
    def _filled_in(rendered: str, nonce: str, stretches: list[str]) -> tuple[str, list[tuple[int, int]]]:
        """The rendered text with each placeholder back to its stretch, and where the stretches are in it."""
        if not stretches:
            return rendered, []
        parts: list[str] = []
        spans: list[tuple[int, int]] = []
        length = 0
        position = 0
        for placeholder in re.finditer(re.escape(nonce) + r"-(\d+)-", rendered):
            before = rendered[position : placeholder.start()]
            stretch = stretches[int(placeholder.group(1))]
            parts += [before, stretch]
            length += len(before)
            spans.append((length, length + len(stretch)))
            length += len(stretch)
            position = placeholder.end()
        parts.append(rendered[position:])
        return "".join(parts), spans

    def _could_make_a_control_token(self, text: str, start: int, end: int) -> bool:
        """Whether, read with the text around it, the caller's `text[start:end]` holds all or part of a control text.
        (A stretch widened for an edge that the template's text next to it does not complete is read in place, so
        that it tokenizes exactly as before, "> a quote" included.)"""
        if self._pattern is None or self._pattern.search(text, start, end):
            return self._pattern is not None
        # any other control text overlapping the stretch starts before it, or in it and ends after it; the longest
        # one starting at a place is the one the pattern matches there
        for at in (*range(max(0, start - self._longest + 1), start), *range(max(start, end - self._longest + 1), end)):
            found = self._pattern.match(text, at)
            if found and found.end() > start:
                return True
        return False

    def _guarded_string(self, text: str, nonce: str, stretches: list[str]) -> str:
        """`text` with the stretch that could make a control token replaced by a placeholder for it."""
        stretch = self._control_stretch(text)
        if stretch is None:
            return text
        start, end = stretch
        stretches.append(text[start:end])
        return f"{text[:start]}{nonce}-{len(stretches) - 1}-{text[end:]}"

    def _control_stretch(self, text: str) -> tuple[int, int] | None:
        """From the first to the last character of `text` that could be part of a control token once rendered: its
        control texts, and at its edges (before or after trimming) the end or the start of one, or all of it when it is
        inside one."""
        core = (len(text) - len(text.lstrip()), len(text.rstrip()))
        for start, end in {(0, len(text)), core}:
            if start < end and "\0" not in text and text[start:end] in self._all:
                return start, end
        found = [match.span() for match in self._pattern.finditer(text)] if self._pattern else []
        first = found[0][0] if found else len(text)
        last = found[-1][1] if found else 0
        for edge in {0, len(text) - len(text.lstrip())}:
            length = self._longest_edge(text[edge:first], self._ends, at_start=True)
            if length:
                first, last = min(first, edge), max(last, edge + length)
        for edge in {len(text), len(text.rstrip())}:
            length = self._longest_edge(text[last:edge], self._starts, at_start=False)
            if length:
                first, last = min(first, edge - length), max(last, edge)
        return (first, last) if first < last else None

    def _longest_edge(self, text: str, parts: set[str], at_start: bool) -> int:
        """How many characters at the start (or end) of `text` are one of `parts`, the most that are."""
        for length in range(min(len(text), self._longest - 1), 0, -1):
            if (text[:length] if at_start else text[-length:]) in parts:
                return length
        return 0
