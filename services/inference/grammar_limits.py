"""Caps on a GBNF grammar before an engine parses it.

llama.cpp's grammar parser recurses on every nested group and expands chained repetition operators, with no bound of
its own on either: ~15,000 nested parentheses overflow the thread's stack (the whole inference service dies with
SIGSEGV), and `"a"` followed by 60,000 `+` grows to tens of GiB. Its sampling cost also grows with the grammar (every
alternative still open is checked against the vocabulary at every token). So a grammar, from a request or made from a
JSON schema, is scanned first and refused past these caps (docs/limits-and-faults.md); the scan skips literals,
character classes and comments, where these characters mean nothing.
"""

from __future__ import annotations

import re

MAX_GRAMMAR_CHARS = 65536
MAX_GRAMMAR_NESTING = 64  # parentheses inside parentheses
MAX_GRAMMAR_REPEATS = 1024  # `*`, `+`, `?` and `{m,n}` in the whole grammar

# a "literal" or a [character class] (each with backslash escapes), a # comment, or one character that counts
_TOKENS = re.compile(r'"(?:\\.|[^"\\])*"|\[(?:\\.|[^\]\\])*\]|#[^\n]*|[()*+?{]', re.DOTALL)


def grammar_problem(gbnf: str) -> str | None:
    """What makes `gbnf` too big to hand to an engine, as the end of a sentence about it; None when within the caps.
    Syntax is the engine's to check: an unterminated literal only makes this count more, never less."""
    if len(gbnf) > MAX_GRAMMAR_CHARS:
        return f"is {len(gbnf)} characters long; at most {MAX_GRAMMAR_CHARS} are accepted"
    depth = repeats = 0
    for match in _TOKENS.finditer(gbnf):
        token = match.group()
        if token == "(":
            depth += 1
            if depth > MAX_GRAMMAR_NESTING:
                return f"nests parentheses more than {MAX_GRAMMAR_NESTING} deep (at character {match.start()})"
        elif token == ")":
            depth = max(depth - 1, 0)
        elif token in ("*", "+", "?", "{"):
            repeats += 1
            if repeats > MAX_GRAMMAR_REPEATS:
                return f"has more than {MAX_GRAMMAR_REPEATS} repetition operators (*, +, ?, {{m,n}})"
    return None
