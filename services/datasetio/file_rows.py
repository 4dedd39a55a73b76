"""The rows of a local JSONL, CSV or Parquet file (blocking: callers run these in a worker thread).

CSV cells stay text (as written), so that an answer like "042" is not turned into a number; JSONL and Parquet keep
their types. A malformed file raises SourceError naming the line (JSONL, CSV) or the file (Parquet). Paths are the ones
sources.py checked, opened so that no symlink put in their way since is followed (llama_mesh/readable_paths.py).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

from llama_mesh.readable_paths import open_checked
from llama_mesh.runtime.errors import without_paths
from llama_mesh.runtime.struct_values import refuse_constant
from services.datasetio.row_values import Row, json_safe

FORMATS = (".jsonl", ".csv", ".parquet")


class SourceError(Exception):
    """A dataset source that cannot be read as rows; `reason` and `details` go into the error sent back."""

    def __init__(self, message: str, *, reason: str = "MALFORMED_DATASET_FILE", **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.details = details


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise SourceError(
            f"{path.name}: unsupported file type {suffix or '(none)'!r}; use {', '.join(FORMATS)}",
            reason="UNSUPPORTED_DATASET_FILE",
        )
    return suffix


def _jsonl_rows(path: Path) -> list[Row]:
    rows: list[Row] = []
    with open_checked(path, "r", encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line, parse_constant=refuse_constant)
            except json.JSONDecodeError as exc:
                raise SourceError(f"{path.name} line {number}: not valid JSON ({exc.msg})", line=number) from exc
            except ValueError as exc:
                raise SourceError(f"{path.name} line {number}: {exc}", line=number) from exc
            if not isinstance(row, dict):
                raise SourceError(
                    f"{path.name} line {number}: a row must be a JSON object, got {type(row).__name__}", line=number
                )
            rows.append(row)
    return rows


def _csv_rows(path: Path) -> list[Row]:
    rows: list[Row] = []
    with open_checked(path, "r", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                return rows
            if len(set(header)) != len(header) or not all(header):
                raise SourceError(f"{path.name} line 1: column names must be unique and not empty", line=1)
            for cells in reader:
                if not cells:
                    continue
                if len(cells) != len(header):
                    raise SourceError(
                        f"{path.name} line {reader.line_num}: {len(cells)} cells where the header has {len(header)}",
                        line=reader.line_num,
                    )
                rows.append(dict(zip(header, cells, strict=True)))
        except csv.Error as exc:
            raise SourceError(f"{path.name} line {reader.line_num}: {exc}", line=reader.line_num) from exc
    return rows


def _parquet_rows(path: Path) -> list[Row]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open_checked(path) as file:
        try:
            table = pq.read_table(file)
        except (pa.ArrowException, OSError) as exc:
            raise SourceError(f"{path.name}: not a readable Parquet file ({without_paths(str(exc))})") from exc
    return [json_safe(row) for row in table.to_pylist()]


_READERS: dict[str, Callable[[Path], list[Row]]] = {
    ".jsonl": _jsonl_rows,
    ".csv": _csv_rows,
    ".parquet": _parquet_rows,
}


def read_rows(path: Path) -> list[Row]:
    """Every row of the file, in file order."""
    reader = _READERS[file_format(path)]
    try:
        return reader(path)
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path.name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except FileNotFoundError as exc:
        raise SourceError(f"{path.name} does not exist", reason="DATASET_FILE_NOT_FOUND") from exc
    except OSError as exc:  # its text names the resolved path: the file's name only, and why
        why = exc.strerror or type(exc).__name__
        raise SourceError(f"{path.name}: cannot be read ({why})", reason="DATASET_FILE_UNREADABLE") from exc
