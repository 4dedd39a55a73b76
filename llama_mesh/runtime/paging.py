"""List paging for every List* RPC (AIP-158): one page-size rule and one opaque page-token format.

- `page_size` 0 means the default; above the maximum it is clamped to the maximum (not refused); negative is
  INVALID_ARGUMENT.
- A page token is opaque to clients: base64url of a versioned JSON position. A token this server did not hand out
  (garbage, another list's token, tampered) is INVALID_ARGUMENT naming `page_token`; an empty token is the first page
  and an empty `next_page_token` means the last page was returned.

    size = page_size(request.page_size)
    after = read_token(request.page_token, "agents")          # None on the first page, else the position
    ... fetch size + 1 items after `after` ...
    next_token = make_token("agents", last_position) if more else ""
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import TypeVar

from llama_mesh.runtime.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_TOKEN_LENGTH = 1024
# The largest position a token may hold: SQLite's largest INTEGER (stores bind positions as query parameters).
MAX_POSITION = 2**63 - 1

Item = TypeVar("Item")
Position = int | str


def page_size(
    requested: int, *, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE, field: str = "page_size"
) -> int:
    """The number of items a page holds: `default` for 0, at most `maximum`. `field` names the request field in the
    refusal (e.g. `limit` where an API calls its page size that)."""
    if requested < 0:
        raise InvalidArgument(field, f"must not be negative, got {requested}")
    return min(requested or default, maximum)


def make_token(listing: str, position: Position) -> str:
    """An opaque token for the page after `position` of `listing` (a name that tells lists apart)."""
    body = json.dumps({"v": 1, "l": listing, "p": position}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def _refused() -> InvalidArgument:
    return InvalidArgument("page_token", "is not a page token this server returned for this list")


def read_token(token: str, listing: str) -> Position | None:
    """The position a token of `listing` holds; None for the empty token (the first page)."""
    if not token:
        return None
    refused = _refused()
    if len(token) > MAX_TOKEN_LENGTH:
        raise refused
    try:
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise refused from exc
    if not isinstance(body, dict) or body.get("v") != 1 or body.get("l") != listing:
        raise refused
    position = body.get("p")
    if isinstance(position, bool) or not isinstance(position, int | str):
        raise refused
    if isinstance(position, int) and not 0 <= position <= MAX_POSITION:
        raise refused
    return position


def read_offset(token: str, listing: str) -> int:
    """The offset a token of `listing` holds (a list paged by offset); 0 for the first page."""
    position = read_token(token, listing)
    if isinstance(position, str):
        raise _refused()
    return position or 0


def read_key(token: str, listing: str) -> str | None:
    """The key a token of `listing` holds (a list paged by sorted key); None for the first page."""
    position = read_token(token, listing)
    if isinstance(position, int):
        raise _refused()
    return position


def page_of(
    items: Sequence[Item], requested_size: int, token: str, listing: str, **limits: int
) -> tuple[list[Item], str]:
    """One page of an in-memory sequence, by offset: the items and the next page's token ("" after the last)."""
    size = page_size(requested_size, **limits)
    start = read_offset(token, listing)
    page = list(items[start : start + size])
    following = start + len(page)
    return page, make_token(listing, following) if following < len(items) else ""
