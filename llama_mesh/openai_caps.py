"""OpenAI's caps on `metadata` (of a vector store, a conversation, a response, a batch, a chat completion) and
`attributes` (of a vector store file, and of a file search result): at most MAX_PAIRS pairs, keys at most
MAX_KEY_CHARS characters, values at most MAX_VALUE_CHARS characters; a metadata value is a string, an attribute value
a string, a boolean or a finite number. The OpenAI edge holds its bodies to them (services/openai_edge/metadata.py),
and the agents service holds its gRPC callers to them, who reach it without the edge.

A vector store file's attributes are also the metadata of each of its chunks in vector_io, where the mesh writes
RESERVED_ATTRIBUTES itself (the edge `file_id` and `filename`, tool_runtime `document_id` and `chunk_index`): a file's
attributes may not use those names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

MAX_PAIRS = 16
MAX_KEY_CHARS = 64
MAX_VALUE_CHARS = 512
RESERVED_ATTRIBUTES = ("file_id", "filename", "document_id", "chunk_index")

_METADATA_VALUES = ((str,), "a string")
_ATTRIBUTE_VALUES = ((str, bool, int, float), "a string, a boolean or a number")


def _shown(key: str) -> str:
    return repr(key if len(key) <= 16 else f"{key[:16]}...")


def _problem(pairs: Mapping[str, object], values: tuple[tuple[type, ...], str]) -> str | None:
    kinds, expected = values
    if len(pairs) > MAX_PAIRS:
        return f"at most {MAX_PAIRS} pairs, got {len(pairs)}"
    for key, value in pairs.items():
        if len(key) > MAX_KEY_CHARS:
            return f"keys are at most {MAX_KEY_CHARS} characters; {_shown(key)} has {len(key)}"
        if not isinstance(value, kinds):
            return f"the value of {_shown(key)} must be {expected}"
        if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            return f"values are at most {MAX_VALUE_CHARS} characters; the value of {_shown(key)} has {len(value)}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"the value of {_shown(key)} must be a finite number"
    return None


def metadata_problem(pairs: Mapping[str, object]) -> str | None:
    """What makes `pairs` no OpenAI metadata (the first cap it passes), or None."""
    return _problem(pairs, _METADATA_VALUES)


def attributes_problem(pairs: Mapping[str, object]) -> str | None:
    """What makes `pairs` no OpenAI attributes (the first cap it passes), or None."""
    return _problem(pairs, _ATTRIBUTE_VALUES)


def file_attributes_problem(pairs: Mapping[str, object]) -> str | None:
    """attributes_problem, or the first key of RESERVED_ATTRIBUTES that `pairs` uses: a vector store file's
    attributes become its chunks' metadata, where the mesh's own value of that key would replace the caller's."""
    problem = attributes_problem(pairs)
    reserved = [key for key in pairs if key in RESERVED_ATTRIBUTES]
    if problem is None and reserved:
        names = ", ".join(RESERVED_ATTRIBUTES)
        return f"{reserved[0]!r} is reserved: the mesh writes {names} into every chunk of a file; use another name"
    return problem
