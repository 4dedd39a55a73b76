"""`llama-mesh traces list|show`: the traces the telemetry service recorded, and one trace as a span tree."""

from __future__ import annotations

from itertools import islice

import click
from rich.text import Text
from rich.tree import Tree

from llama.telemetry.v1 import telemetry_pb2 as pb
from llama_mesh.cli.output import print_json, stdout, table
from llama_mesh.cli.state import get_state, json_option

# Attributes worth a glance in the tree, after the span's name and duration.
_SHOWN_ATTRIBUTES = (
    "service.name",
    "resource_id",
    "model_id",
    "prompt_tokens",
    "completion_tokens",
    "time_to_first_token_ms",
    "error.reason",
    "otel.status_description",
)


def _condition(text: str) -> pb.QueryCondition:
    """key=value (EQ), key!=value, key>value, key<value; numbers and true/false are typed, the rest are strings."""
    for symbol, op in (
        ("!=", pb.QUERY_CONDITION_OP_NE),
        (">", pb.QUERY_CONDITION_OP_GT),
        ("<", pb.QUERY_CONDITION_OP_LT),
        ("=", pb.QUERY_CONDITION_OP_EQ),
    ):
        key, found, value = text.partition(symbol)
        if found and key:
            condition = pb.QueryCondition(key=key.strip(), op=op)
            value = value.strip()
            if value in ("true", "false"):
                condition.value.bool_value = value == "true"
            else:
                try:
                    condition.value.number_value = float(value)
                except ValueError:
                    condition.value.string_value = value
            return condition
    raise click.BadParameter(f"{text!r} is not key=value, key!=value, key>value or key<value", param_hint="--filter")


def _millis(start: object, end: object) -> float:
    return (end.ToNanoseconds() - start.ToNanoseconds()) / 1e6  # type: ignore[attr-defined]


def _duration(start: object, end: object, has_end: bool) -> str:
    return f"{_millis(start, end):.1f} ms" if has_end else "open"


@click.group(help="Traces the telemetry service recorded.")
def traces() -> None:
    pass


@traces.command(name="list", help="The newest traces (optionally only those with a span matching every --filter).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000), help="How many traces.")
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="KEY=VALUE",
    help="A span attribute test: key=value, key!=value, key>value, key<value (repeatable).",
)
@json_option
def list_traces(limit: int, filters: tuple[str, ...]) -> None:
    found = get_state().client().telemetry.iter_traces([_condition(item) for item in filters], page_size=limit)
    recorded = list(islice(found, limit))
    if get_state().json:
        print_json(recorded)
        return
    table(
        ["trace id", "root span", "started", "duration"],
        [
            [
                t.trace_id,
                t.root_span_id,
                t.start_time.ToDatetime().isoformat(sep=" ", timespec="milliseconds"),
                _duration(t.start_time, t.end_time, t.HasField("end_time")),
            ]
            for t in recorded
        ],
    )


def _label(span: pb.Span) -> Text:
    label = Text(span.name or "(unnamed)", style="bold red" if span.status == pb.SPAN_STATUS_ERROR else "bold")
    label.append(f"  {_duration(span.start_time, span.end_time, span.HasField('end_time'))}", style="cyan")
    details = [f"{key}={_value(span.attributes[key])}" for key in _SHOWN_ATTRIBUTES if key in span.attributes]
    if details:
        label.append("  " + " ".join(details), style="dim")
    return label


def _value(value: object) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _grow(tree: Tree, node: pb.SpanNode) -> None:
    for child in node.children:
        _grow(tree.add(_label(child.span)), child)


@traces.command(help="One trace as a tree of spans with their durations.")
@click.argument("trace_id")
@json_option
def show(trace_id: str) -> None:
    telemetry = get_state().client().telemetry
    root = telemetry.get_span_tree(telemetry.get_trace(trace_id).root_span_id)
    if get_state().json:
        print_json(root)
        return
    tree = Tree(_label(root.span))
    _grow(tree, root)
    stdout.print(tree)
