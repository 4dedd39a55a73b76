"""Dataset sources (allowed paths, Hugging Face URIs), IterRows windows, and purpose columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from llama.common.v1 import resources_pb2 as res
from llama_mesh.runtime.errors import InvalidArgument
from services.datasetio.file_rows import SourceError, read_rows
from services.datasetio.huggingface_rows import _load
from services.datasetio.paging import next_start, window_bounds
from services.datasetio.purposes import check_columns
from services.datasetio.sources import FileSource, HuggingFaceSource, InlineSource, parse_source


def dataset(uri: str) -> res.Dataset:
    return res.Dataset(identifier="d", source=res.DataSource(uri=uri))


def test_file_paths_resolve_inside_the_allowed_dirs(tmp_path: Path) -> None:
    allowed = (tmp_path.resolve(),)
    (tmp_path / "sub").mkdir()
    assert parse_source(dataset(f"file://{tmp_path}/sub/a.jsonl"), allowed) == FileSource(tmp_path / "sub/a.jsonl")
    assert parse_source(dataset(f"{tmp_path}/a.csv"), allowed) == FileSource(tmp_path / "a.csv")


@pytest.mark.parametrize("uri", ["/etc/passwd.jsonl", "file:///{root}/../escape.jsonl", "{root}/link/x.jsonl"])
def test_paths_outside_the_allowed_dirs_are_refused(tmp_path: Path, uri: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)  # a symlink out of the allowed dir does not get out
    with pytest.raises(InvalidArgument) as caught:
        parse_source(dataset(uri.format(root=root)), (root.resolve(),))
    assert caught.value.reason == "PATH_NOT_ALLOWED"


def test_the_data_dir_opens_only_allowed_dirs_inside_it(tmp_path: Path) -> None:
    """An operator's allowed dir that holds the data dir (or is it) opens no file of the mesh's own: the registry,
    SQLite databases, post-training work directories; an allowed dir inside the data dir does, and so does the rest
    of an allowed dir that holds it."""
    data_dir = tmp_path / "data"
    (data_dir / "post_training" / "work" / "sft-1").mkdir(parents=True)
    (data_dir / "benchmarks").mkdir()
    allowed = (tmp_path.resolve(), data_dir.resolve(), (data_dir / "benchmarks").resolve())
    mesh_files = (
        f"{data_dir}/registry.db",
        f"file://{data_dir}/post_training/work/sft-1/rows.jsonl",
        f"{data_dir}/benchmarks/../agents/agents.db",
        f"{data_dir}/benchmarks/../benchmarks-x.jsonl",
    )
    for uri in mesh_files:
        with pytest.raises(InvalidArgument) as caught:
            parse_source(dataset(uri), allowed, data_dir.resolve())
        assert caught.value.reason == "PATH_NOT_ALLOWED" and "datasets" in caught.value.message, uri
    inside = parse_source(dataset(f"{data_dir}/benchmarks/mmlu.jsonl"), allowed, data_dir.resolve())
    assert inside == FileSource(data_dir / "benchmarks" / "mmlu.jsonl")
    beside = parse_source(dataset(f"{tmp_path}/rows.jsonl"), allowed, data_dir.resolve())
    assert beside == FileSource(tmp_path / "rows.jsonl")


@pytest.mark.parametrize("swapped", ["directory", "file"])
def test_a_symlink_swapped_in_after_the_check_reads_no_rows(tmp_path: Path, swapped: str) -> None:
    """A dataset file checked inside an allowed dir that others may write in, then a symlink to the data dir put in
    the place of its directory (or of the file) before the rows are read: another job's training rows stay unread."""
    data_dir, shared = tmp_path / "data", tmp_path / "shared"
    (data_dir / "post_training" / "work" / "sft-1").mkdir(parents=True)
    (data_dir / "post_training" / "work" / "sft-1" / "rows.jsonl").write_text('{"secret": "of another job"}\n')
    (shared / "sft-1").mkdir(parents=True)
    (shared / "sft-1" / "rows.jsonl").write_text('{"harmless": true}\n')
    source = parse_source(dataset(f"{shared}/sft-1/rows.jsonl"), (shared.resolve(),), data_dir.resolve())
    assert isinstance(source, FileSource)
    if swapped == "directory":
        (shared / "sft-1").rename(shared / "was-sft-1")
        (shared / "sft-1").symlink_to(data_dir / "post_training" / "work" / "sft-1", target_is_directory=True)
    else:
        (shared / "sft-1" / "rows.jsonl").unlink()
        (shared / "sft-1" / "rows.jsonl").symlink_to(data_dir / "post_training" / "work" / "sft-1" / "rows.jsonl")
    with pytest.raises(SourceError) as caught:
        read_rows(source.path)
    assert caught.value.reason == "DATASET_FILE_UNREADABLE" and "changed after it was checked" in caught.value.message


def test_relative_paths_and_other_schemes_are_refused(tmp_path: Path) -> None:
    for uri in ("data/a.jsonl", "s3://bucket/a.jsonl"):
        with pytest.raises(InvalidArgument):
            parse_source(dataset(uri), (tmp_path,))
    with pytest.raises(InvalidArgument, match="is required"):
        parse_source(res.Dataset(identifier="d"), (tmp_path,))


def test_inline_and_huggingface_sources(tmp_path: Path) -> None:
    inline = res.Dataset(identifier="d", source=res.DataSource(rows=res.RowsSource()))
    assert parse_source(inline, (tmp_path,)) == InlineSource()
    hf = parse_source(dataset("huggingface://llamastack/mmlu_cot?split=test&name=all"), (tmp_path,))
    assert hf == HuggingFaceSource(repo="llamastack/mmlu_cot", split="test", options={"name": "all"})
    llama_stack_style = parse_source(dataset("huggingface://datasets/llamastack/simpleqa?split=train"), (tmp_path,))
    assert llama_stack_style == HuggingFaceSource(repo="llamastack/simpleqa", split="train")
    with pytest.raises(InvalidArgument, match="unknown option"):
        parse_source(dataset("huggingface://a/b?shuffle=1"), (tmp_path,))


@pytest.mark.parametrize(
    "uri",
    [
        "huggingface://../../../somewhere",
        "huggingface://owner/../x",
        "hf:///etc/passwd",
        "huggingface://a/b/c",
        "huggingface://owner/name.py",
        "huggingface://owner/na me",
        "huggingface://" + "x" * 200,
        "huggingface://owner/name?data_dir=../../etc",
        "huggingface://owner/name?data_dir=/etc",
        "huggingface://owner/name?split=tr%00ain",
    ],
)
def test_huggingface_ids_that_are_paths_are_refused(tmp_path: Path, uri: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_source(dataset(uri), (tmp_path,))


def test_a_hub_id_shadowed_by_a_local_folder_is_not_read_from_disk(tmp_path: Path, monkeypatch) -> None:
    """load_dataset("owner/name") reads ./owner/name when it exists; the service refuses instead of loading it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "owner" / "name").mkdir(parents=True)
    (tmp_path / "owner" / "name" / "rows.jsonl").write_text('{"secret": "local rows"}\n')
    source = parse_source(dataset("huggingface://owner/name"), (tmp_path,))
    with pytest.raises(InvalidArgument) as caught:
        _load(source)
    assert caught.value.reason == "HUGGINGFACE_DATASET_INVALID"


def test_a_nul_byte_in_a_dataset_path_is_an_invalid_argument(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument):
        parse_source(dataset(f"file://{tmp_path}/a%00b.jsonl"), (tmp_path,))
    with pytest.raises(InvalidArgument):
        parse_source(dataset(f"{tmp_path}/a\x00b.jsonl"), (tmp_path,))


def test_windows() -> None:
    assert window_bounds(0, 0) == (0, 100)
    assert window_bounds(5, 5000) == (5, 1000)
    for start, limit in ((-1, 10), (0, -1)):
        with pytest.raises(InvalidArgument):
            window_bounds(start, limit)
    assert next_start(0, 3, 7) == 3
    assert next_start(6, 1, 7) is None
    assert next_start(50, 0, 7) is None


def test_purpose_columns_accept_either_naming() -> None:
    qa = res.DATASET_PURPOSE_EVAL_QUESTION_ANSWER
    check_columns([{"input_query": "q", "expected_answer": "a"}, {"question": "q", "answer": "a"}], qa, "rows")
    with pytest.raises(InvalidArgument) as caught:
        check_columns([{"question": "q", "answer": "a"}, {"question": "q"}], qa, "rows")
    assert "row 1" in caught.value.message and caught.value.reason == "MISSING_COLUMN"
    check_columns([{"anything": 1}], res.DATASET_PURPOSE_UNSPECIFIED, "rows")
