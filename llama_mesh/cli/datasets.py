"""`llama-mesh datasets register|rows`: register a dataset from a file, a URI or inline rows, and page through its
rows (list, get and unregister are the generic resource commands)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from llama.common.v1 import resources_pb2 as res
from llama_mesh.cli.output import dim, print_json, stdout
from llama_mesh.cli.resources import json_object
from llama_mesh.cli.state import get_state, json_option
from llama_mesh.client.datasetio import row_dicts

PURPOSES = {
    "eval/question-answer": res.DATASET_PURPOSE_EVAL_QUESTION_ANSWER,
    "eval/messages-answer": res.DATASET_PURPOSE_EVAL_MESSAGES_ANSWER,
    "post-training/messages": res.DATASET_PURPOSE_POST_TRAINING_MESSAGES,
}


def jsonl_rows(path: Path, option: str) -> list[dict[str, Any]]:
    """The rows of a local JSONL file (a usage error naming the line for a bad one)."""
    rows: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise click.BadParameter(f"cannot read {path}: {error.strerror or error}", param_hint=option) from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise click.BadParameter(f"{path} line {number}: not valid JSON ({error.msg})", param_hint=option) from None
        if not isinstance(row, dict):
            raise click.BadParameter(f"{path} line {number}: a row must be a JSON object", param_hint=option)
        rows.append(row)
    return rows


def source_uri(uri: str) -> str:
    """A URI as given (file://, huggingface://), or an existing local path made absolute as file://."""
    if "://" in uri:
        return uri
    return Path(uri).expanduser().resolve().as_uri()


@click.command(
    name="register",
    help="Register a dataset from --uri (a file the datasetio service may read: "
    "JSONL, CSV, Parquet; or huggingface://owner/name?split=test) or --rows-file "
    "(a local JSONL sent as inline rows).",
)
@click.argument("identifier")
@click.option("--uri", help="file:///abs/path.jsonl, a path, or huggingface://owner/name?split=...")
@click.option("--rows-file", type=click.Path(dir_okay=False, path_type=Path), help="A local JSONL file of rows.")
@click.option("--purpose", type=click.Choice(list(PURPOSES)), default="eval/question-answer", show_default=True)
@click.option("--provider-id", default="", help="The provider serving it (optional with one provider).")
@click.option("--metadata", help="A JSON object kept with the dataset.")
@json_option
def register(
    identifier: str, uri: str | None, rows_file: Path | None, purpose: str, provider_id: str, metadata: str | None
) -> None:
    if (uri is None) == (rows_file is None):
        raise click.UsageError("give --uri or --rows-file (one of them)")
    if rows_file is not None:
        source: dict[str, Any] = {"rows": {"rows": jsonl_rows(rows_file, "--rows-file")}}
    else:
        source = {"uri": source_uri(uri or "")}
    datasets = get_state().client().datasets
    dataset = datasets.register(
        identifier, provider_id, purpose=PURPOSES[purpose], source=source, metadata=json_object(metadata, "--metadata")
    )
    if get_state().json:
        print_json(dataset)
        return
    stdout.print(f"registered dataset {dataset.identifier} (provider {dataset.provider_id})", markup=False)


@click.command(help="Print rows of DATASET_ID, one JSON object per line; --all pages through every row.")
@click.argument("dataset_id")
@click.option(
    "--start", "start_index", type=click.IntRange(min=0), default=0, show_default=True, help="Index of the first row."
)
@click.option("--limit", type=click.IntRange(min=1, max=1000), default=20, show_default=True, help="Rows per page.")
@click.option("--all", "every_row", is_flag=True, help="Follow next_start_index to the last row.")
@json_option
def rows(dataset_id: str, start_index: int, limit: int, every_row: bool) -> None:
    state = get_state()
    datasetio = state.client().datasetio
    start = start_index
    while True:
        page = datasetio.iter_rows(dataset_id, start, limit)
        if state.json and not every_row:
            print_json(page)
            return
        for row in row_dicts(page):
            stdout.print(json.dumps(row, ensure_ascii=False), markup=False, highlight=False)
        following = page.next_start_index if page.HasField("next_start_index") else None
        if not every_row or following is None:
            break
        start = following
    shown = f"rows {start_index}-{start + len(page.rows) - 1}" if page.rows or start > start_index else "no rows"
    total = f" of {page.total_rows}" if page.HasField("total_rows") else ""
    more = f"; next: --start {following}" if following is not None else ""
    dim(f"{shown}{total}{more}")


def extend_datasets_group(group: click.Group) -> None:
    """Give the generic `datasets` group its own register (sources, purposes) and the rows command."""
    group.add_command(register)
    group.add_command(rows)
