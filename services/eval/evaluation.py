"""One evaluation: read the rows, ask the candidate for each, score the answers. Used by jobs and EvaluateRows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import struct_pb2

from llama.common.v1 import resources_pb2, scoring_pb2
from llama.datasetio.v1 import datasetio_pb2
from llama.eval.v1 import eval_pb2
from llama.scoring.v1 import scoring_pb2 as scoring_api_pb2
from llama_mesh.runtime.errors import InvalidArgument, RemoteError
from llama_mesh.runtime.gateway_client import GatewayClient
from llama_mesh.runtime.struct_values import struct_dict
from services.eval.candidates import Candidate, Generation
from services.eval.row_prompt import PROMPT_FORMATS, RowFormatError, row_messages

# Rows one evaluation may take: every row's answer is scored in one ScoringService.Score call, which takes this many.
MAX_EVAL_ROWS = 10_000

Row = dict[str, Any]
Progress = Callable[[int, int], Awaitable[None]]


@dataclass(frozen=True)
class EvalPlan:
    """What one evaluation does, checked before it starts."""

    benchmark: resources_pb2.Benchmark
    scoring: dict[str, resources_pb2.ScoringFunctionParams]
    prompt_format: str
    num_examples: int  # 0: every row


def prompt_format_of(benchmark: resources_pb2.Benchmark) -> str:
    fields = dict(benchmark.metadata.items())  # a Struct has no .get
    value = fields.get("prompt_format", "")
    if value and value not in PROMPT_FORMATS:
        raise InvalidArgument(
            "benchmark.metadata.prompt_format", f"must be one of {', '.join(PROMPT_FORMATS)}, got {value!r}"
        )
    return str(value)


def plan(
    benchmark: resources_pb2.Benchmark, config: eval_pb2.BenchmarkConfig, requested_functions: list[str] | None = None
) -> EvalPlan:
    names = list(requested_functions or benchmark.scoring_functions)
    if not names:
        raise InvalidArgument("benchmark.scoring_functions", f"benchmark {benchmark.identifier!r} names none")
    unknown = sorted(set(config.scoring_params) - set(names))
    if unknown:
        raise InvalidArgument(
            "benchmark_config.scoring_params",
            f"{', '.join(unknown)} is not among the scoring functions used: {', '.join(names)}",
        )
    if config.HasField("num_examples") and config.num_examples < 0:
        raise InvalidArgument("benchmark_config.num_examples", "must not be negative")
    scoring = {name: config.scoring_params.get(name, resources_pb2.ScoringFunctionParams()) for name in names}
    return EvalPlan(benchmark, scoring, prompt_format_of(benchmark), config.num_examples)


def check_row_count(count: int, field: str, what: str) -> None:
    """INVALID_ARGUMENT, before any generation, for more rows than one scoring call takes (every row's answer is
    scored in one ScoringService.Score call, which takes at most MAX_EVAL_ROWS)."""
    if count > MAX_EVAL_ROWS:
        raise InvalidArgument(
            field,
            f"{what} {count} rows; an evaluation scores at most {MAX_EVAL_ROWS}: set benchmark_config.num_examples "
            f"to {MAX_EVAL_ROWS} or fewer (or split the rows)",
            reason="TOO_MANY_ROWS",
        )


async def dataset_head(gateway: GatewayClient, dataset_id: str, time_left: float | None) -> tuple[Row | None, int]:
    """The dataset's first row (None when it has none) and how many rows it has."""
    request = datasetio_pb2.IterRowsRequest(dataset_id=dataset_id, start_index=0, limit=1)
    page = await gateway.call(gateway.datasetio.IterRows, request, time_left)
    return (struct_dict(page.rows[0], "dataset_id") if page.rows else None), page.total_rows


def struct_rows(rows: list[struct_pb2.Struct], field: str) -> list[Row]:
    return [struct_dict(row, f"{field}[{index}]") for index, row in enumerate(rows)]


async def read_rows(
    gateway: GatewayClient, dataset_id: str, limit: int, page_size: int, time_left: float | None
) -> list[Row]:
    """The dataset's first `limit` rows (every row when 0), page by page."""
    rows: list[Row] = []
    start: int | None = 0
    while start is not None and (not limit or len(rows) < limit):
        want = page_size if not limit else min(page_size, limit - len(rows))
        request = datasetio_pb2.IterRowsRequest(dataset_id=dataset_id, start_index=start, limit=want)
        page = await gateway.call(gateway.datasetio.IterRows, request, time_left)
        rows.extend(struct_dict(row, "dataset_id") for row in page.rows)
        start = page.next_start_index if page.HasField("next_start_index") and page.rows else None
    return rows[:limit] if limit else rows


def check_prompt(row: Row, index: int, prompt_format: str) -> None:
    try:
        row_messages(row, prompt_format)
    except RowFormatError as error:
        raise InvalidArgument(
            f"rows[{index}].{error.column}",
            str(error).split(": ", 1)[1],
            reason="MALFORMED_ROW",
            row=index,
            column=error.column,
        ) from error


async def generate(
    candidate: Candidate, rows: list[Row], prompt_format: str, time_left: float | None, progress: Progress | None = None
) -> list[Generation]:
    """One generation per row, in order. A row the model refuses (INVALID_ARGUMENT, e.g. an image for a text-only
    model) gets {"error": ...} and scores as wrong; other failures stop the evaluation."""
    generations: list[Generation] = []
    for index, row in enumerate(rows):
        check_prompt(row, index, prompt_format)
        try:
            generations.append(await candidate.generate(row_messages(row, prompt_format), time_left))
        except RemoteError as error:
            if error.code != grpc.StatusCode.INVALID_ARGUMENT:
                raise
            generations.append({"generated_answer": "", "error": error.message})
        if progress is not None:
            await progress(index + 1, len(rows))
    return generations


async def score(
    gateway: GatewayClient,
    rows: list[Row],
    generations: list[Generation],
    scoring: dict[str, resources_pb2.ScoringFunctionParams],
    time_left: float | None,
) -> dict[str, scoring_pb2.ScoringResult]:
    """Every scoring function over the rows with their generated answers."""
    inputs = []
    for row, generation in zip(rows, generations, strict=True):
        scored = struct_pb2.Struct()
        scored.update({**row, "generated_answer": generation.get("generated_answer", "")})
        inputs.append(scored)
    request = scoring_api_pb2.ScoreRequest(input_rows=inputs, scoring_functions=scoring)
    reply = await gateway.call(gateway.scoring.Score, request, time_left)
    return dict(reply.results)


def generation_structs(generations: list[Generation]) -> list[struct_pb2.Struct]:
    structs = []
    for generation in generations:
        struct = struct_pb2.Struct()
        struct.update(generation)
        structs.append(struct)
    return structs
