"""`llama-mesh sdg generate`: synthetic data from a JSONL file of dialogs, with a progress bar.

    llama-mesh sdg generate --model smollm2-135m-instruct --dialogs dialogs.jsonl --num-candidates 4 \\
        --filter top_k --k 2 --seed 7 [--append-to DATASET] [--output rows.jsonl]

Each line of --dialogs is a dialog: {"messages": [{"role": "user", "content": "..."}], "expected_answer": "..."}
("expected_answer" optional), or {"prompt": "..."} for one user message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from google.protobuf import json_format
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from llama.synthetic_data_generation.v1 import synthetic_data_generation_pb2 as pb
from llama_mesh.cli.datasets import jsonl_rows
from llama_mesh.cli.output import compact_json, dim, print_json, stderr, table
from llama_mesh.cli.state import get_state, json_option

FILTERS = ("none", "random", "top_k", "top_p", "top_k_top_p", "sigmoid")


def dialogs_of(path: Path) -> list[dict[str, Any]]:
    dialogs: list[dict[str, Any]] = []
    for number, row in enumerate(jsonl_rows(path, "--dialogs"), start=1):
        if "prompt" in row and "messages" not in row:
            row = {"messages": [{"role": "user", "content": str(row.pop("prompt"))}], **row}
        if "messages" not in row:
            raise click.BadParameter(f"{path} dialog {number}: needs 'messages' (or 'prompt')", param_hint="--dialogs")
        dialogs.append(row)
    if not dialogs:
        raise click.BadParameter(f"{path} holds no dialogs", param_hint="--dialogs")
    return dialogs


@click.group(help="Synthetic data: candidates from a model, scored and filtered, as rows for fine-tuning.")
def sdg() -> None:
    pass


@sdg.command(
    help="Write --num-candidates answers per dialog of --dialogs (JSONL) with --model, score them, keep "
    "those --filter selects, and print the kept rows and the statistics."
)
@click.option("--model", help="A registered LLM (default: the service's default model).")
@click.option(
    "--dialogs",
    "dialogs_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help='JSONL: one dialog per line, {"messages": [...], "expected_answer": ...} or {"prompt": ...}.',
)
@click.option("--num-candidates", type=int, default=2, show_default=True, help="Candidates per dialog.")
@click.option("--filter", "filtering_function", type=click.Choice(FILTERS), default="none", show_default=True)
@click.option("--k", type=int, help="random, top_k, top_k_top_p: candidates kept per dialog.")
@click.option("--p", type=float, help="top_p, top_k_top_p: the softmax mass kept, in (0, 1].")
@click.option("--threshold", type=float, help="sigmoid: the least sigmoid(score) kept, in (0, 1).")
@click.option("--seed", type=int, help="Same seed, same data (default: a random seed, printed).")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Longest candidate (default: the service's).")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), help="Sampling temperature.")
@click.option("--scoring-function", help="Score with this scoring function, e.g. llm-as-judge::base.")
@click.option("--judge-model", help="Score with this judge model's logprobs of yes/no (default scorer).")
@click.option("--append-to", help="A registered dataset the rows are appended to.")
@click.option(
    "--append-format",
    type=click.Choice(["dialog", "preference_pairs"]),
    default="dialog",
    show_default=True,
    help="Which rows --append-to gets.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the kept rows (or, with --append-format preference_pairs, the pairs) as JSONL.",
)
@json_option
def generate(dialogs_file: Path, output: Path | None, **options: Any) -> None:
    dialogs = dialogs_of(dialogs_file)
    options["append_format"] = options["append_format"] if options.get("append_to") else None
    result = _with_progress(get_state().client().synthetic_data.stream(dialogs, **options))
    pairs = options.get("append_format") == "preference_pairs"
    rows = [json_format.MessageToDict(row) for row in (result.preference_pairs if pairs else result.synthetic_data)]
    if output is not None:
        output.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    if get_state().json:
        print_json(result)
        return
    table(
        ["dialog", "candidate", "score", "response"],
        [
            [row["dialog_index"], row["candidate_index"], row.get("score"), row["response"]]
            for row in map(json_format.MessageToDict, result.synthetic_data)
        ],
        title="kept candidates",
    )
    statistics = json_format.MessageToDict(result.statistics)
    table(["statistic", "value"], [[name, compact_json(value)] for name, value in statistics.items()])
    if output is not None:
        dim(f"{len(rows)} rows written to {output}")


def _with_progress(events: Any) -> pb.SynthesizeDataResponse:
    """Follow the stream with one bar per unit (on stderr) until its result."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr, transient=False) as progress:
        bars: dict[str, Any] = {}
        for event in events:
            if event.WhichOneof("event") == "result":
                return event.result
            step = event.progress
            if step.unit not in bars:
                bars[step.unit] = progress.add_task(step.unit, total=step.total)
            progress.update(bars[step.unit], total=step.total, completed=step.done)
    raise click.ClickException("the stream ended without a result")
