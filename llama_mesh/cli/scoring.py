"""`llama-mesh scoring score`: score rows from a JSONL file, or a registered dataset, with scoring functions and print
each function's aggregates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from google.protobuf import json_format

from llama_mesh.cli.datasets import jsonl_rows
from llama_mesh.cli.output import compact_json, dim, print_json, table
from llama_mesh.cli.state import get_state, json_option


@click.group(help="Score rows with registered scoring functions.")
def scoring() -> None:
    pass


def _aggregate_rows(results: Any) -> list[list[str]]:
    lines: list[list[str]] = []
    for function_id in sorted(results):
        aggregated = json_format.MessageToDict(results[function_id].aggregated_results)
        for name, values in aggregated.items():
            lines.append([function_id, name, compact_json(values)])
    return lines


@scoring.command(
    help="Score the rows of --rows-file (JSONL) or --dataset-id with each --function; prints the "
    "aggregates per function (--json: every score row too)."
)
@click.option(
    "-f",
    "--function",
    "functions",
    multiple=True,
    required=True,
    help="A registered scoring function id (repeatable), e.g. basic::equality.",
)
@click.option("--rows-file", type=click.Path(dir_okay=False, path_type=Path), help="A local JSONL file of rows.")
@click.option("--dataset-id", help="A registered dataset, scored through the datasetio API.")
@click.option("--save", is_flag=True, help="With --dataset-id: save the rows and their scores as a new dataset.")
@json_option
def score(functions: tuple[str, ...], rows_file: Path | None, dataset_id: str | None, save: bool) -> None:
    if (rows_file is None) == (dataset_id is None):
        raise click.UsageError("give --rows-file or --dataset-id (one of them)")
    if save and dataset_id is None:
        raise click.UsageError("--save needs --dataset-id")
    state = get_state()
    client = state.client().scoring
    if rows_file is not None:
        input_rows = jsonl_rows(rows_file, "--rows-file")
        if not input_rows:
            raise click.BadParameter(f"{rows_file} holds no rows", param_hint="--rows-file")
        reply: Any = client.score(input_rows, list(functions))
    else:
        reply = client.score_batch(dataset_id or "", list(functions), save_results_dataset=save)
    if state.json:
        print_json(reply)
        return
    table(["scoring function", "aggregation", "result"], _aggregate_rows(reply.results))
    if getattr(reply, "saved_dataset_id", ""):
        dim(f"scored rows saved as dataset {reply.saved_dataset_id}")
