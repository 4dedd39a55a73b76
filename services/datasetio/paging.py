"""IterRows' window rules (see the proto): start_index from 0, limit 0 -> 100, at most 1000 (clamped, as every
page size: llama_mesh.runtime.paging), negatives refused."""

from __future__ import annotations

from llama_mesh.runtime import paging
from llama_mesh.runtime.errors import InvalidArgument

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def window_bounds(start_index: int, limit: int) -> tuple[int, int]:
    if start_index < 0:
        raise InvalidArgument("start_index", f"must not be negative, got {start_index}")
    return start_index, paging.page_size(limit, default=DEFAULT_LIMIT, maximum=MAX_LIMIT, field="limit")


def next_start(start_index: int, returned: int, total: int) -> int | None:
    """Where the next page starts; None when these were the last rows."""
    following = start_index + returned
    return following if returned and following < total else None
