"""`llama-mesh datasets` and `scoring` without a mesh: their usage errors, and what they make of local files."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from llama_mesh.cli.datasets import source_uri
from llama_mesh.cli.main import cli


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--gateway", "127.0.0.1:1", *args])
    return result.exit_code, result.output


def test_register_needs_exactly_one_source(tmp_path: Path) -> None:
    code, output = run("datasets", "register", "qa")
    assert code == 2 and "give --uri or --rows-file" in output
    code, output = run("datasets", "register", "qa", "--uri", "/x.jsonl", "--rows-file", str(tmp_path / "r.jsonl"))
    assert code == 2 and "one of them" in output


def test_a_bad_rows_file_names_its_line(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"input_query": "q", "expected_answer": "a"}\n[1]\n')
    code, output = run("datasets", "register", "qa", "--rows-file", str(rows))
    assert code == 2 and "line 2: a row must be a JSON object" in output


def test_score_needs_rows_or_a_dataset(tmp_path: Path) -> None:
    code, output = run("scoring", "score", "-f", "basic::equality")
    assert code == 2 and "give --rows-file or --dataset-id" in output
    rows = tmp_path / "rows.jsonl"
    rows.write_text("{}\n")
    code, output = run("scoring", "score", "-f", "basic::equality", "--rows-file", str(rows), "--save")
    assert code == 2 and "--save needs --dataset-id" in output


def test_paths_become_file_uris(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert source_uri("qa.jsonl") == (tmp_path / "qa.jsonl").resolve().as_uri()
    assert source_uri("huggingface://datasets/llamastack/simpleqa?split=train").startswith("huggingface://")
