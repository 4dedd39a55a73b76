"""The one paging module: page sizes clamp (AIP-158), tokens are opaque and checked."""

from __future__ import annotations

import grpc
import pytest

from llama_mesh.runtime.errors import InvalidArgument
from llama_mesh.runtime.paging import MAX_PAGE_SIZE, MAX_POSITION, make_token, page_of, page_size, read_token


def test_page_size_defaults_clamps_and_refuses_negatives() -> None:
    assert page_size(0, default=7) == 7
    assert page_size(3) == 3
    assert page_size(MAX_PAGE_SIZE * 10) == MAX_PAGE_SIZE
    with pytest.raises(InvalidArgument) as refused:
        page_size(-1)
    assert refused.value.field == "page_size" and refused.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_tokens_round_trip_and_belong_to_their_list() -> None:
    assert read_token("", "agents") is None
    assert read_token(make_token("agents", 42), "agents") == 42
    assert read_token(make_token("agents", "agent-7"), "agents") == "agent-7"
    with pytest.raises(InvalidArgument, match="page_token"):
        read_token(make_token("sessions", 42), "agents")


@pytest.mark.parametrize(
    "token",
    # an offset past 2**63 - 1 made SQLite's OFFSET raise OverflowError: INTERNAL (QueryTraces)
    [
        "!!!",
        "42",
        "e30",
        "x" * 5000,
        make_token("agents", -1),
        make_token("agents", MAX_POSITION + 1),
        make_token("agents", 10**30),
    ],
)
def test_tokens_this_server_did_not_give_are_refused(token: str) -> None:
    with pytest.raises(InvalidArgument, match="page_token"):
        read_token(token, "agents")


def test_page_of_walks_a_sequence_to_its_end() -> None:
    items = list(range(7))
    seen, token = [], ""
    while True:
        page, token = page_of(items, 3, token, "numbers")
        seen += page
        if not token:
            break
    assert seen == items
