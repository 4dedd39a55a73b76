"""The parts of a query a caller writes, checked and turned into plain values: attribute conditions, order_by,
QuerySpans' page tokens (llama_mesh.runtime.paging does the rest). Every refusal is InvalidArgument naming the
request field."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from llama.telemetry.v1 import telemetry_pb2 as pb
from llama_mesh.runtime import paging
from llama_mesh.runtime.errors import InvalidArgument

MAX_TREE_DEPTH = 64

Op = Literal["eq", "ne", "gt", "lt"]
_OPS: dict[int, Op] = {
    pb.QUERY_CONDITION_OP_EQ: "eq",
    pb.QUERY_CONDITION_OP_NE: "ne",
    pb.QUERY_CONDITION_OP_GT: "gt",
    pb.QUERY_CONDITION_OP_LT: "lt",
}
ORDER_FIELDS = ("start_time", "end_time")
_SPAN_KEY = re.compile(r"([0-9]{1,19})\.([0-9a-f]{32})\.([0-9a-f]{16})")  # a QuerySpans token's span key


@dataclass(frozen=True)
class Condition:
    """A test on one attribute; `value` is a str, a float or a bool."""

    key: str
    op: Op
    value: str | float | bool


MAX_FILTERS = 16
MAX_KEY_CHARS = 256
MAX_VALUE_CHARS = 4096


@dataclass(frozen=True)
class SpanKey:
    """Where a span stands in QuerySpans' order: its trace (root start time, trace id), then the span."""

    trace_start_ns: int
    trace_id: str
    span_id: str


@dataclass(frozen=True)
class OrderTerm:
    field: Literal["start_time", "end_time"]
    descending: bool


def conditions(filters: Sequence[pb.QueryCondition], field: str = "attribute_filters") -> list[Condition]:
    """The filters, within their caps: MAX_FILTERS conditions (each one more join over the attribute rows, run under
    the store's one lock), keys of MAX_KEY_CHARS and string values of MAX_VALUE_CHARS at most."""
    if len(filters) > MAX_FILTERS:
        raise InvalidArgument(field, f"at most {MAX_FILTERS} conditions, got {len(filters)}")
    parsed: list[Condition] = []
    for index, condition in enumerate(filters):
        where = f"{field}[{index}]"
        if not condition.key:
            raise InvalidArgument(f"{where}.key", "is required")
        if len(condition.key) > MAX_KEY_CHARS:
            raise InvalidArgument(f"{where}.key", f"is at most {MAX_KEY_CHARS} characters")
        if len(condition.value.string_value) > MAX_VALUE_CHARS:
            raise InvalidArgument(f"{where}.value", f"a string value is at most {MAX_VALUE_CHARS} characters")
        op = _OPS.get(condition.op)
        if op is None:
            raise InvalidArgument(f"{where}.op", "must be one of EQ, NE, GT, LT")
        kind = condition.value.WhichOneof("kind")
        value: str | float | bool
        if kind == "string_value":
            value = condition.value.string_value
        elif kind == "number_value":
            value = condition.value.number_value
        elif kind == "bool_value":
            value = condition.value.bool_value
        else:
            raise InvalidArgument(f"{where}.value", "must be a string, a number or a bool")
        if op in ("gt", "lt") and isinstance(value, bool):
            raise InvalidArgument(f"{where}.value", "GT and LT compare numbers or strings, not bools")
        parsed.append(Condition(condition.key, op, value))
    return parsed


def order_terms(order_by: str) -> list[OrderTerm]:
    """AIP-132 order_by over start_time / end_time; empty means "start_time desc"."""
    if not order_by.strip():
        return [OrderTerm("start_time", descending=True)]
    terms: list[OrderTerm] = []
    for part in order_by.split(","):
        words = part.split()
        if not words or len(words) > 2 or words[0] not in ORDER_FIELDS or words[1:] not in ([], ["asc"], ["desc"]):
            raise InvalidArgument(
                "order_by", f"{part.strip()!r} is not one of start_time, end_time, optionally followed by asc or desc"
            )
        if any(term.field == words[0] for term in terms):
            raise InvalidArgument("order_by", f"{words[0]} is named twice")
        terms.append(OrderTerm(words[0], descending=words[1:] == ["desc"]))  # type: ignore[arg-type]
    return terms


def max_depth(request: object) -> int:
    """A request's optional max_depth: unset means the deepest allowed."""
    if not request.HasField("max_depth"):  # type: ignore[attr-defined]
        return MAX_TREE_DEPTH
    depth = request.max_depth  # type: ignore[attr-defined]
    if not 0 <= depth <= MAX_TREE_DEPTH:
        raise InvalidArgument("max_depth", f"must be in 0..{MAX_TREE_DEPTH}, got {depth}")
    return depth


def span_token(listing: str, key: SpanKey) -> str:
    """A QuerySpans page token: the key of the span the next page starts at."""
    return paging.make_token(listing, f"{key.trace_start_ns}.{key.trace_id}.{key.span_id}")


def span_key(token: str, listing: str) -> SpanKey | None:
    """The key of the span a QuerySpans page token starts at (None for no token: the first page)."""
    key = paging.read_key(token, listing)
    if key is None:
        return None
    match = _SPAN_KEY.fullmatch(key)  # str.isdigit() would also pass '²'
    if match is None or int(match[1]) > paging.MAX_POSITION:
        raise InvalidArgument("page_token", "is not a page token this server returned for this list")
    return SpanKey(int(match[1]), match[2], match[3])


def query_fingerprint(*parts: object) -> str:
    """A short digest of a query's filters and order, binding page tokens to the query they came from."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def wanted_attributes(names: Sequence[str]) -> frozenset[str] | None:
    """attributes_to_return: None (every attribute) when empty."""
    return frozenset(names) if names else None
