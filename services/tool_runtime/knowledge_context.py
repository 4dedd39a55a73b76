"""The retrieved chunks formatted as context for a model, within a token budget."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from services.tool_runtime.chunking import count_tokens

DEFAULT_CHUNK_TEMPLATE = "Result {index}\nContent: {chunk.content}\nMetadata: {metadata}\n"
HEADER = "knowledge_search tool found {count} chunks:\nBEGIN of knowledge_search tool results.\n"
FOOTER = (
    "END of knowledge_search tool results.\n"
    'The above results were retrieved to help answer the user\'s query: "{query}". Use them as supporting '
    "information only in answering this query.\n"
)


@dataclass
class RetrievedChunk:
    text: str
    metadata: dict[str, Any]
    score: float

    @property
    def document_id(self) -> str:
        return str(self.metadata.get("document_id", ""))


def format_chunk(template: str, index: int, chunk: RetrievedChunk) -> str:
    """Placeholders are replaced literally (not str.format), so braces in a chunk's text are kept as they are."""
    metadata = json.dumps(chunk.metadata, sort_keys=True, ensure_ascii=False)
    return (
        template.replace("{index}", str(index)).replace("{chunk.content}", chunk.text).replace("{metadata}", metadata)
    )


def build_context(
    query: str, chunks: list[RetrievedChunk], template: str, max_tokens: int
) -> tuple[str, list[RetrievedChunk]]:
    """The context text and the chunks placed in it; chunks that would exceed `max_tokens` are left out. Blocking
    (counts tokens): call off the event loop."""
    placed: list[str] = []
    used: list[RetrievedChunk] = []
    budget = max_tokens
    for chunk in chunks:
        text = format_chunk(template or DEFAULT_CHUNK_TEMPLATE, len(used) + 1, chunk)
        tokens = count_tokens(text)
        if tokens > budget:
            continue
        budget -= tokens
        placed.append(text)
        used.append(chunk)
    if not used:
        return "", []
    return HEADER.format(count=len(used)) + "".join(placed) + FOOTER.replace("{query}", query), used
