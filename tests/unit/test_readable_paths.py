"""The one rule for paths a service may read (llama_mesh/readable_paths.py): which paths pass, with each service's own
words, and `open_checked`, which opens only the file at the checked path, through no symlink put in its way."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llama_mesh.readable_paths import LocalFiles, PathChanged, SeveralNames, open_checked, readable_path
from llama_mesh.runtime.errors import InvalidArgument

FILES = LocalFiles(
    folder="documents",
    nul="no NUL in {uri!r}",
    not_absolute="{uri!r} is relative",
    in_data_dir="{uri!r} is in the data dir",
    outside="{uri!r} is outside",
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for folder in ("data/documents", "data/benchmarks", "data/post_training", "shared"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "shared" / "to-data").symlink_to(tmp_path / "data", target_is_directory=True)
    return tmp_path


def refusal(uri: str, allowed: tuple[Path, ...], data_dir: Path | None) -> tuple[str, str]:
    with pytest.raises(InvalidArgument) as caught:
        readable_path(uri, "f", FILES, allowed, data_dir)
    return caught.value.reason, caught.value.message


def test_paths_are_absolute_without_nul_and_in_the_words_of_the_service(tree: Path) -> None:
    assert refusal("a.md", (tree,), None) == ("INVALID_ARGUMENT", "f: 'a.md' is relative")
    assert refusal(f"{tree}/a\x00.md", (tree,), None)[1] == f"f: no NUL in '{tree}/a\\x00.md'"
    assert refusal("/etc/passwd", (tree / "shared",), None) == ("PATH_NOT_ALLOWED", "f: '/etc/passwd' is outside")
    assert readable_path(f"file://{tree}/shared/a%20b.md", "f", FILES, (tree / "shared",), None) == (
        tree / "shared" / "a b.md"
    )


def test_inside_the_data_dir_only_its_folder_and_allowed_dirs_inside_it_open(tree: Path) -> None:
    data = tree / "data"
    wide = (tree, data, data / "benchmarks")  # even an operator listing the data dir and a directory above it
    for uri in (f"{data}/registry.db", f"{data}/post_training/rows.jsonl", f"{tree}/shared/to-data/registry.db"):
        assert refusal(uri, wide, data) == ("PATH_NOT_ALLOWED", f"f: {uri!r} is in the data dir")
    for inside in ("documents/a.md", "benchmarks/mmlu.jsonl"):
        assert readable_path(f"{data}/{inside}", "f", FILES, wide, data) == data / inside
    assert readable_path(f"{tree}/shared/a.md", "f", FILES, wide, data) == tree / "shared" / "a.md"
    # the data dir's folder opens only where an allowed dir holds it too
    reason, message = refusal(f"{data}/documents/a.md", (tree / "shared",), data)
    assert (reason, message.endswith("is outside")) == ("PATH_NOT_ALLOWED", True)


def test_open_checked_reads_the_checked_file(tree: Path) -> None:
    (tree / "shared" / "a.md").write_text("hello")
    with open_checked(tree / "shared" / "a.md", "r", encoding="utf-8") as file:
        assert file.read() == "hello"
    with pytest.raises(FileNotFoundError):
        open_checked(tree / "shared" / "missing.md")


def test_open_checked_follows_no_symlink_on_the_way(tree: Path) -> None:
    (tree / "data" / "registry.db").write_text("secret")
    (tree / "shared" / "link.db").symlink_to(tree / "data" / "registry.db")
    for path in (tree / "shared" / "to-data" / "registry.db", tree / "shared" / "link.db"):
        with pytest.raises(PathChanged) as caught:
            open_checked(path)
        assert "changed after it was checked" in str(caught.value)
    with pytest.raises(ValueError):
        open_checked(Path("shared/a.md"))


def test_open_checked_opens_only_regular_files(tree: Path) -> None:
    os.mkfifo(tree / "shared" / "pipe.md")  # opened for reading, a FIFO would wait for a writer for ever
    for path in (tree / "shared" / "pipe.md", tree / "shared", Path("/")):
        with pytest.raises(OSError, match="not a regular file"):
            open_checked(path)


def test_open_checked_opens_no_file_with_several_names(tree: Path) -> None:
    """A hard link in an allowed directory to one of the mesh's files passed every check of its path, and read the
    mesh's file; a file with one name still opens, also once its other name is gone."""
    (tree / "data" / "registry.db").write_text("secret")
    os.link(tree / "data" / "registry.db", tree / "shared" / "copy.db")
    with pytest.raises(SeveralNames) as caught:
        open_checked(tree / "shared" / "copy.db")
    assert "2 names (hard links)" in str(caught.value) and "copy it" in str(caught.value)
    (tree / "data" / "registry.db").unlink()
    with open_checked(tree / "shared" / "copy.db", "r", encoding="utf-8") as file:
        assert file.read() == "secret"
