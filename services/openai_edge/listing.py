"""OpenAI's list pages (`limit`, `after`, `before`, `order`), over records already in creation order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from services.openai_edge.errors import bad_request

Record = TypeVar("Record")

MAX_LIMIT = 100


def list_page(
    records: Sequence[Record],
    render: Callable[[Record], dict[str, Any]],
    *,
    limit: int,
    order: Literal["asc", "desc"],
    after: str | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    """`after` / `before`: the id of an item of the previous page (unknown ids: 400 naming the parameter)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_request("limit", f"must be between 1 and {MAX_LIMIT}, got {limit}")
    items = [render(record) for record in records]
    if order == "desc":
        items.reverse()
    ids = [item["id"] for item in items]
    for name, cursor in (("after", after), ("before", before)):
        if cursor is not None and cursor not in ids:
            raise bad_request(name, f"{cursor!r} is not an item of this list")
    if before is not None:
        items = items[: ids.index(before)]
        items, has_more = items[-limit:], len(items) > limit
    else:
        start = ids.index(after) + 1 if after is not None else 0
        items, has_more = items[start : start + limit], len(items) > start + limit
    return list_object(items, has_more)


def list_object(items: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    """OpenAI's list object around one page of rendered items."""
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": has_more,
    }
