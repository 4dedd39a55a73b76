"""OpenAI's `metadata` (of a vector store, a conversation, a response, a batch, a chat completion) and `attributes`
(of a vector store file, and of a file search result sent back as input), held to OpenAI's caps: at most MAX_PAIRS
pairs, keys at most MAX_KEY_CHARS characters, values at most MAX_VALUE_CHARS characters; a metadata value is a
string, an attribute value a string, a boolean or a finite number. The edge keeps both (its SQLite store, the agents
service's), and a file's attributes are also the metadata of each of its chunks in vector_io.

A body past a cap is a 400 naming the parameter (`metadata`, `files[2].attributes`) and the key at fault, before
anything is stored: the whole mapping is checked before pydantic reads its values.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator

MAX_PAIRS = 16
MAX_KEY_CHARS = 64
MAX_VALUE_CHARS = 512


def _shown(key: str) -> str:
    return repr(key if len(key) <= 16 else f"{key[:16]}...")


def _capped(pairs: Any, kinds: tuple[type, ...], expected: str) -> Any:
    """`pairs` as it came, or a ValueError naming the first cap it passes; anything but an object is left to
    pydantic's own error."""
    if not isinstance(pairs, dict):
        return pairs
    if len(pairs) > MAX_PAIRS:
        raise ValueError(f"at most {MAX_PAIRS} pairs, got {len(pairs)}")
    for key, value in pairs.items():
        if not isinstance(key, str):
            continue
        if len(key) > MAX_KEY_CHARS:
            raise ValueError(f"keys are at most {MAX_KEY_CHARS} characters; {_shown(key)} has {len(key)}")
        if not isinstance(value, kinds):
            raise ValueError(f"the value of {_shown(key)} must be {expected}")
        if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            message = f"values are at most {MAX_VALUE_CHARS} characters; the value of {_shown(key)} has {len(value)}"
            raise ValueError(message)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"the value of {_shown(key)} must be a finite number")
    return pairs


def _metadata(pairs: Any) -> Any:
    return _capped(pairs, (str,), "a string")


def _attributes(pairs: Any) -> Any:
    return _capped(pairs, (str, bool, int, float), "a string, a boolean or a number")


Metadata = Annotated[dict[str, str], BeforeValidator(_metadata)]
Attributes = Annotated[dict[str, str | float | bool], BeforeValidator(_attributes)]
