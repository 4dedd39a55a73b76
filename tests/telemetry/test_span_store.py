"""The span store and the query logic over it, without a server: OTLP decoding, filters, order, paging, trees."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1 import trace_pb2

from llama.telemetry.v1 import telemetry_pb2 as pb
from llama_mesh.runtime import paging
from llama_mesh.runtime.errors import InvalidArgument
from services.telemetry import query_terms as terms
from services.telemetry.otlp_spans import spans_of_request
from services.telemetry.owned_spans import owned_spans
from services.telemetry.span_pages import matching_spans
from services.telemetry.span_store import SpanStore, owned_by
from services.telemetry.span_tree import span_tree
from services.telemetry.stored_span import STATUS_ERROR, StoredSpan


def _span(trace: int, span: int, parent: int = 0, start: int = 0, **attributes: object) -> StoredSpan:
    return StoredSpan(
        trace_id=f"{trace:032x}",
        span_id=f"{span:016x}",
        parent_span_id=f"{parent:016x}" if parent else "",
        name=f"span-{span}",
        start_ns=1_000 + start,
        end_ns=2_000 + start,
        attributes=dict(attributes),
    )


@pytest.fixture
def store() -> SpanStore:
    store = SpanStore(":memory:")
    store.insert(
        [
            _span(1, 11, start=0, **{"service.name": "gateway", "resource_id": "m1"}),
            _span(1, 12, parent=11, start=1, model_id="m1", completion_tokens=7),
            _span(1, 13, parent=12, start=2, flag=True),
            _span(2, 21, start=10, **{"service.name": "gateway", "resource_id": "m2"}),
            _span(2, 22, parent=21, start=11, model_id="m2", completion_tokens=30),
            _span(3, 31, parent=99, start=20, **{"service.name": "gateway"}),  # the caller's span was never received
        ]
    )
    return store


def _condition(key: str, op: int, value: object) -> pb.QueryCondition:
    condition = pb.QueryCondition(key=key, op=op)  # type: ignore[arg-type]
    if isinstance(value, bool):
        condition.value.bool_value = value
    elif isinstance(value, int | float):
        condition.value.number_value = value
    else:
        condition.value.string_value = str(value)
    return condition


def _trace_ids(store: SpanStore, *filters: pb.QueryCondition, order: str = "") -> list[int]:
    rows = store.traces(terms.conditions(filters), terms.order_terms(order), 100, 0)
    return [int(row.trace_id, 16) for row in rows]


def test_traces_newest_first_with_their_roots(store: SpanStore) -> None:
    rows = store.traces([], terms.order_terms(""), 100, 0)
    assert [(int(r.trace_id, 16), int(r.root_span_id, 16)) for r in rows] == [(3, 31), (2, 21), (1, 11)]
    assert _trace_ids(store, order="start_time asc") == [1, 2, 3]


def test_filters_match_any_span_of_a_trace(store: SpanStore) -> None:
    assert _trace_ids(store, _condition("model_id", pb.QUERY_CONDITION_OP_EQ, "m1")) == [1]
    assert _trace_ids(store, _condition("completion_tokens", pb.QUERY_CONDITION_OP_GT, 10)) == [2]
    assert _trace_ids(store, _condition("completion_tokens", pb.QUERY_CONDITION_OP_LT, 10)) == [1]
    assert _trace_ids(store, _condition("flag", pb.QUERY_CONDITION_OP_EQ, True)) == [1]
    # A trace without the attribute fails NE too.
    assert _trace_ids(store, _condition("model_id", pb.QUERY_CONDITION_OP_NE, "m1")) == [2]
    both = [
        _condition("service.name", pb.QUERY_CONDITION_OP_EQ, "gateway"),
        _condition("resource_id", pb.QUERY_CONDITION_OP_EQ, "m2"),
    ]
    assert _trace_ids(store, *both) == [2]
    # A number does not equal a string attribute.
    assert _trace_ids(store, _condition("model_id", pb.QUERY_CONDITION_OP_EQ, 1)) == []


@pytest.mark.parametrize(
    ("condition", "field"),
    [
        (pb.QueryCondition(key="", op=pb.QUERY_CONDITION_OP_EQ), "attribute_filters[0].key"),
        (pb.QueryCondition(key="a"), "attribute_filters[0].op"),
        (pb.QueryCondition(key="a", op=pb.QUERY_CONDITION_OP_EQ), "attribute_filters[0].value"),
        (_condition("a", pb.QUERY_CONDITION_OP_GT, True), "attribute_filters[0].value"),
        (_condition("k" * 257, pb.QUERY_CONDITION_OP_EQ, "x"), "attribute_filters[0].key"),
        (_condition("a", pb.QUERY_CONDITION_OP_EQ, "v" * 4097), "attribute_filters[0].value"),
    ],
)
def test_bad_filters_name_the_field(condition: pb.QueryCondition, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        terms.conditions([condition])
    assert caught.value.field == field


def test_filters_are_capped() -> None:
    with pytest.raises(InvalidArgument) as caught:
        terms.conditions([_condition("a", pb.QUERY_CONDITION_OP_EQ, "x")] * 17)
    assert caught.value.field == "attribute_filters"
    assert len(terms.conditions([_condition("a", pb.QUERY_CONDITION_OP_EQ, "x")] * 16)) == 16


@pytest.mark.parametrize("order_by", ["name", "start_time up", "start_time, start_time desc", "start_time desc x"])
def test_bad_order_by(order_by: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        terms.order_terms(order_by)
    assert caught.value.field == "order_by"


def test_span_page_tokens_are_bound_to_their_query() -> None:
    key = terms.SpanKey(5, "ab" * 16, "cd" * 8)
    token = terms.span_token("spans:a", key)
    assert terms.span_key(token, "spans:a") == key
    assert terms.span_key("", "spans:a") is None
    forged = [
        paging.make_token("spans:a", position)
        for position in (
            f"\u00b2.{'ab' * 16}.{'cd' * 8}",
            f"99999999999999999999.{'ab' * 16}.{'cd' * 8}",
            f"1.{'ab' * 16}.",
            f"-1.{'ab' * 16}.{'cd' * 8}",
            f"1.{'AB' * 16}.{'cd' * 8}",
        )
    ]
    for bad, listing in (
        (token, "spans:b"),
        ("not-a-token", "spans:a"),
        (paging.make_token("spans:a", 3), "spans:a"),
        *((forged_token, "spans:a") for forged_token in forged),  # were ValueError / OverflowError: INTERNAL
    ):
        with pytest.raises(InvalidArgument) as caught:
            terms.span_key(bad, listing)
        assert caught.value.field == "page_token"


def test_tree_depth_and_order(store: SpanStore) -> None:
    spans = store.trace_spans(f"{1:032x}")
    tree = span_tree(spans, f"{11:016x}", terms.MAX_TREE_DEPTH)
    assert tree is not None
    assert [int(s.span_id, 16) for s in tree.depth_first()] == [11, 12, 13]
    shallow = span_tree(spans, f"{11:016x}", 1)
    assert shallow is not None and [int(s.span_id, 16) for s in shallow.depth_first()] == [11, 12]


def test_span_pages_resume_inside_a_trace(store: SpanStore) -> None:
    seen: list[int] = []
    first = None
    while True:
        page = matching_spans(store, [], None, terms.MAX_TREE_DEPTH, 2, first)
        assert len(page.spans) <= 2
        seen.extend(int(span.span_id, 16) for span in page.spans)
        if page.next_key is None:
            break
        first = page.next_key
    assert seen == [31, 21, 22, 11, 12, 13]


def test_resent_span_replaces_the_earlier_copy(store: SpanStore) -> None:
    store.insert([_span(1, 12, parent=11, start=1, model_id="m9")])
    assert _trace_ids(store, _condition("model_id", pb.QUERY_CONDITION_OP_EQ, "m1")) == []
    assert _trace_ids(store, _condition("model_id", pb.QUERY_CONDITION_OP_EQ, "m9")) == [1]


def test_a_span_sent_twice_in_one_batch_is_stored_once_as_its_last_copy(store: SpanStore) -> None:
    store.insert([_span(4, 41, model_id="first"), _span(4, 41, model_id="last")])
    assert [span.attributes for span in store.trace_spans(f"{4:032x}")] == [{"model_id": "last"}]
    assert _trace_ids(store, _condition("model_id", pb.QUERY_CONDITION_OP_EQ, "first")) == []
    assert _trace_ids(store, _condition("model_id", pb.QUERY_CONDITION_OP_EQ, "last")) == [4]


def test_a_callers_traces_are_those_whose_root_names_it() -> None:
    store = SpanStore(":memory:")
    store.insert(
        [
            _span(1, 11, caller="alice"),
            _span(2, 21, caller="bob"),
            _span(2, 22, parent=21, caller="alice"),  # alice's name below bob's root: still bob's trace
        ]
    )
    assert [int(row.trace_id, 16) for row in store.traces(owned_by("alice"), terms.order_terms(""), 10, 0)] == [1]
    assert store.trace(f"{2:032x}", owned_by("alice")) is None and store.trace(f"{2:032x}", owned_by("bob"))


# How a store kept its spans before attribute rows were keyed by the span's `seq` (schema version 0).
_VERSION_0 = """
CREATE TABLE spans (trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_span_id TEXT NOT NULL, name TEXT NOT NULL,
    start_ns INTEGER NOT NULL, end_ns INTEGER, status INTEGER NOT NULL, attributes TEXT NOT NULL,
    PRIMARY KEY (trace_id, span_id));
CREATE INDEX spans_by_span_id ON spans (span_id);
CREATE TABLE span_attributes (trace_id TEXT NOT NULL, span_id TEXT NOT NULL, key TEXT NOT NULL, text_value TEXT,
    num_value REAL, bool_value INTEGER);
CREATE INDEX attributes_by_trace ON span_attributes (trace_id, key);
CREATE INDEX attributes_by_span ON span_attributes (trace_id, span_id);
"""


def _write_version_0(path: Path, spans: list[StoredSpan]) -> None:
    db = sqlite3.connect(path)
    db.executescript(_VERSION_0)
    for s in spans:
        db.execute(
            "INSERT INTO spans VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (s.trace_id, s.span_id, s.parent_span_id, s.name, s.start_ns, s.end_ns, s.status, json.dumps(s.attributes)),
        )
        for key, value in s.attributes.items():
            if isinstance(value, str):
                row: tuple[object, ...] = (value, None, None)
            else:
                row = (None, None, int(value)) if isinstance(value, bool) else (None, float(value), None)
            db.execute("INSERT INTO span_attributes VALUES (?, ?, ?, ?, ?, ?)", (s.trace_id, s.span_id, key, *row))
    db.commit()
    db.close()


def test_a_store_of_the_earlier_schema_is_converted_and_answers_the_same(store: SpanStore, tmp_path: Path) -> None:
    spans = [span for trace in (1, 2, 3) for span in store.trace_spans(f"{trace:032x}")]
    path = tmp_path / "traces.db"
    _write_version_0(path, spans)
    converted = SpanStore(path)
    queries = [
        [],
        [_condition("model_id", pb.QUERY_CONDITION_OP_EQ, "m1")],
        [_condition("completion_tokens", pb.QUERY_CONDITION_OP_GT, 10)],
        [_condition("flag", pb.QUERY_CONDITION_OP_EQ, True)],
        [_condition("service.name", pb.QUERY_CONDITION_OP_EQ, "gateway")],
    ]
    for filters in queries:
        assert _trace_ids(converted, *filters) == _trace_ids(store, *filters)
    for trace in (1, 2, 3):
        assert converted.trace_spans(f"{trace:032x}") == store.trace_spans(f"{trace:032x}")
    assert converted.find_span(f"{12:016x}") == store.find_span(f"{12:016x}")
    converted.insert([_span(5, 51, model_id="m1")])  # and it goes on storing
    assert _trace_ids(converted, _condition("model_id", pb.QUERY_CONDITION_OP_EQ, "m1")) == [5, 1]
    converted.close()
    reopened = SpanStore(path)  # opened again: already converted
    assert _trace_ids(reopened, _condition("model_id", pb.QUERY_CONDITION_OP_EQ, "m1")) == [5, 1]
    reopened.close()


def _otlp(
    trace_id: bytes, span_id: bytes = b"\x01" * 8, parent: bytes = b"", start: int = 10, end: int = 20
) -> ExportTraceServiceRequest:
    span = trace_pb2.Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name="op",
        kind=trace_pb2.Span.SPAN_KIND_SERVER,
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        attributes=[KeyValue(key="n", value=AnyValue(int_value=3))],
        status=trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_ERROR, message="boom"),
    )
    resource_spans = trace_pb2.ResourceSpans(scope_spans=[trace_pb2.ScopeSpans(spans=[span])])
    resource_spans.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value="svc")))
    return ExportTraceServiceRequest(resource_spans=[resource_spans])


def test_otlp_spans_carry_resource_kind_and_status() -> None:
    (span,) = spans_of_request(_otlp(b"\x02" * 16))
    assert span.trace_id == "02" * 16 and span.span_id == "01" * 8 and span.parent_span_id == ""
    assert span.status == STATUS_ERROR
    assert span.attributes == {"service.name": "svc", "n": 3, "span.kind": "server", "otel.status_description": "boom"}


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (_otlp(b"\x02" * 3), "resource_spans[0].scope_spans[0].spans[0].trace_id"),
        (_otlp(b"\x00" * 16), "resource_spans[0].scope_spans[0].spans[0].trace_id"),
        (_otlp(b"\x02" * 16, span_id=b"\x01" * 4), "resource_spans[0].scope_spans[0].spans[0].span_id"),
        (_otlp(b"\x02" * 16, parent=b"\x01" * 3), "resource_spans[0].scope_spans[0].spans[0].parent_span_id"),
        # past 2**63 - 1 ns, SQLite raised OverflowError when storing it: INTERNAL
        (_otlp(b"\x02" * 16, start=2**63), "resource_spans[0].scope_spans[0].spans[0].start_time_unix_nano"),
        (_otlp(b"\x02" * 16, end=2**64 - 1), "resource_spans[0].scope_spans[0].spans[0].end_time_unix_nano"),
    ],
)
def test_malformed_otlp_is_refused(request_: ExportTraceServiceRequest, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        spans_of_request(request_)
    assert caught.value.field == field


def _reference_order(store: SpanStore, owner: str | None, max_depth: int) -> list[str]:
    """QuerySpans' order as trees built in Python give it: trace by trace, newest first, each depth-first."""
    spans: list[str] = []
    for trace in store.traces(owned_by(owner), terms.order_terms(""), 1000, 0):
        visible = owned_spans(store.trace_spans(trace.trace_id), trace.root_span_id, owner)
        tree = span_tree(visible, trace.root_span_id, max_depth)
        assert tree is not None
        spans.extend(span.span_id for span in tree.depth_first())
    return spans


def _paged(store: SpanStore, owner: str | None, max_depth: int, page_size: int) -> list[str]:
    seen: list[str] = []
    first = None
    while True:
        page = matching_spans(store, [], owner, max_depth, page_size, first)
        assert len(page.spans) <= page_size
        seen.extend(span.span_id for span in page.spans)
        if page.next_key is None:
            return seen
        first = page.next_key


@pytest.mark.parametrize("page_size", [1, 2, 3, 7, 1000])
def test_span_pages_walk_the_trees_in_sql_as_in_python(page_size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SpanStore(":memory:")
    spans = [_span(1, 1, start=5, caller="alice")]
    for index in range(2, 40):  # a bushy tree: each span under an earlier one, siblings out of start order
        spans.append(_span(1, index, parent=index // 3 or 1, start=(index * 7) % 11, caller="alice"))
    spans += [_span(1, 40, parent=2, start=1, caller="bob"), _span(1, 41, parent=40, start=2)]  # bob's call
    spans += [_span(2, 50, start=5, caller="alice"), _span(2, 51, parent=50, start=5), _span(2, 52, parent=50, start=5)]
    spans += [_span(3, 60, start=9, caller="bob"), _span(4, 70, start=5, caller="alice")]
    store.insert(spans)
    cases = [("alice", terms.MAX_TREE_DEPTH), (None, terms.MAX_TREE_DEPTH), ("alice", 2), (None, 0)]
    expected = [_reference_order(store, owner, max_depth) for owner, max_depth in cases]
    # A page reads the spans it holds (and the path down to the first), not whole traces rebuilt in Python.
    monkeypatch.setattr(store, "trace_spans", lambda trace_id: pytest.fail("a page read a whole trace"))
    assert [_paged(store, owner, max_depth, page_size) for owner, max_depth in cases] == expected
