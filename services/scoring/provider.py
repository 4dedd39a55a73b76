"""The interface every scoring provider implements, and the plain objects it works on."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import struct_pb2

from llama.common.v1 import resources_pb2 as res
from llama_mesh.runtime.errors import InvalidArgument

Row = dict[str, Any]
ScoreRow = dict[str, Any]


@dataclass(frozen=True)
class RowsOrigin:
    """Where the scored rows come from, so that an error can name the row: the request's input_rows, or a dataset."""

    dataset_id: str = ""

    def missing_column(self, index: int, column: str, function_id: str) -> InvalidArgument:
        if self.dataset_id:
            field, where = "dataset_id", f"row {index} of dataset {self.dataset_id!r}"
        else:
            field, where = f"input_rows[{index}]", f"input row {index}"
        return InvalidArgument(
            field,
            f"{where} has no column {column!r}, which scoring function {function_id!r} needs",
            reason="MISSING_COLUMN",
            row_index=index,
            column=column,
            scoring_function_id=function_id,
        )

    def bad_value(self, index: int, column: str, function_id: str, problem: str) -> InvalidArgument:
        field = "dataset_id" if self.dataset_id else f"input_rows[{index}].{column}"
        where = f"row {index} of dataset {self.dataset_id!r}" if self.dataset_id else f"input row {index}"
        return InvalidArgument(
            field,
            f"{where}, column {column!r}: {problem} (scoring function {function_id!r})",
            reason="INVALID_COLUMN_VALUE",
            row_index=index,
            column=column,
            scoring_function_id=function_id,
        )


@dataclass(frozen=True)
class ScoringCall:
    """One scoring function over a set of rows, as a provider sees it."""

    function: res.ScoringFunction
    # The registered params, or the call's params where it gave some.
    params: res.ScoringFunctionParams
    rows: Sequence[Row]
    origin: RowsOrigin
    # Seconds left of the caller's deadline (None: none), for calls made on its behalf.
    timeout: float | None

    @property
    def function_id(self) -> str:
        return self.function.identifier


def as_struct(row: Row) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(row)
    return struct


def text_of(value: Any) -> str:
    """A column value as text: whole numbers without ".0" (a Struct holds every number as a double)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value
    return str(value)


class ScoringProvider(ABC):
    """A scoring provider. The servicer only knows this interface."""

    def __init__(self, provider_id: str) -> None:
        self.provider_id = provider_id

    @abstractmethod
    async def prepare(self, function: res.ScoringFunction) -> res.ScoringFunction:
        """Check a scoring function before it is registered (INVALID_ARGUMENT for params it cannot honour)."""

    @abstractmethod
    def required_columns(self, function: res.ScoringFunction, params: res.ScoringFunctionParams) -> tuple[str, ...]:
        """The columns every row needs (checked for all rows before anything is scored)."""

    @abstractmethod
    async def score(self, call: ScoringCall) -> list[ScoreRow]:
        """One score row per input row, in order; each holds "score" (None when scoring that row failed, with
        "error" saying why)."""

    @abstractmethod
    def default_aggregations(self, function: res.ScoringFunction) -> list[int]:
        """The aggregations used when the params name none."""

    async def close(self) -> None:
        return None
