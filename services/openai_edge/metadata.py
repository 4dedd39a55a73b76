"""OpenAI's `metadata` (of a vector store, a conversation, a response, a batch, a chat completion) and `attributes`
(of a vector store file, and of a file search result sent back as input) as body types, held to OpenAI's caps
(llama_mesh/openai_caps.py: 16 pairs, keys 64 characters, values 512; a metadata value is a string, an attribute
value a string, a boolean or a finite number). The edge keeps both (its SQLite store, the agents service's), and a
vector store file's attributes are also the metadata of each of its chunks in vector_io, so they may not use the
names the mesh writes there (`FileAttributes`: openai_caps.RESERVED_ATTRIBUTES).

A body past a cap is a 400 naming the parameter (`metadata`, `files[2].attributes`) and the key at fault, before
anything is stored: the whole mapping is checked before pydantic reads its values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator

from llama_mesh.openai_caps import attributes_problem, file_attributes_problem, metadata_problem


def _checked(problem: Callable[[Mapping[str, object]], str | None]) -> BeforeValidator:
    """A validator that passes a mapping as it came, or raises a ValueError naming the first cap it passes; anything
    but an object is left to pydantic's own error."""

    def check(pairs: Any) -> Any:
        found = problem(pairs) if isinstance(pairs, dict) else None
        if found is not None:
            raise ValueError(found)
        return pairs

    return BeforeValidator(check)


Metadata = Annotated[dict[str, str], _checked(metadata_problem)]
Attributes = Annotated[dict[str, str | float | bool], _checked(attributes_problem)]
# A vector store file's: also its chunks' metadata.
FileAttributes = Annotated[dict[str, str | float | bool], _checked(file_attributes_problem)]
