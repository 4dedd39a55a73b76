"""Reading dataset files: every format's rows, and malformed files refused naming the line."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.datasetio.file_rows import SourceError, read_rows

ROWS = [
    {"input_query": "2+2?", "expected_answer": "4"},
    {"input_query": "Capital of France?", "expected_answer": "Paris"},
]


def test_jsonl_rows_keep_their_types_and_skip_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"n": 1, "tags": ["a"]}) + "\n\n" + json.dumps({"n": 2.5, "tags": []}) + "\n")
    assert read_rows(path) == [{"n": 1, "tags": ["a"]}, {"n": 2.5, "tags": []}]


def test_csv_cells_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text('input_query,expected_answer\n"What is 1,000 + 1?",042\n')
    assert read_rows(path) == [{"input_query": "What is 1,000 + 1?", "expected_answer": "042"}]


def test_parquet_rows(tmp_path: Path) -> None:
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist([{**row, "blob": b"\x00\x01"} for row in ROWS]), path)
    assert read_rows(path) == [{**row, "blob": "AAE="} for row in ROWS]


def test_parquet_nan_and_infinity_read_as_null(tmp_path: Path) -> None:
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist([{"x": float("nan")}, {"x": float("inf")}, {"x": -float("inf")}]), path)
    assert read_rows(path) == [{"x": None}, {"x": None}, {"x": None}]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("bad.jsonl", '{"a": 1}\n[1, 2]\n', "line 2: a row must be a JSON object"),
        ("bad.jsonl", '{"a": 1}\n{"a": \n', "line 2: not valid JSON"),
        ("bad.jsonl", '{"a": 1}\n{"a": NaN}\n', "line 2: NaN is not a JSON number"),
        ("bad.jsonl", '{"a": [-Infinity]}\n', "line 1: -Infinity is not a JSON number"),
        ("bad.csv", "a,b\n1,2\n3\n", "line 3: 1 cells where the header has 2"),
        ("bad.csv", "a,a\n1,2\n", "line 1: column names must be unique"),
        ("bad.parquet", "not parquet at all", "not a readable Parquet file"),
        ("rows.txt", "whatever", "unsupported file type '.txt'"),
    ],
)
def test_malformed_files_name_the_problem(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SourceError) as caught:
        read_rows(path)
    assert expected in caught.value.message


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin.jsonl"
    path.write_bytes('{"a": "caf\xe9"}\n'.encode("latin-1"))
    with pytest.raises(SourceError, match="not UTF-8"):
        read_rows(path)
