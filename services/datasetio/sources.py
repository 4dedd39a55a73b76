"""Where a dataset's rows come from, read from its DataSource: inline rows, a local file inside the allowed
directories, or a Hugging Face dataset (`huggingface://owner/name?split=test&name=config`).

The allowed directories are the provider's `allowed_dirs`, by default the data dir's DATASETS_FOLDER. The rest of the
data dir holds the mesh's own files (the registry and the services' SQLite databases, post-training work directories and
checkpoints, uploaded files, certificates), which are never dataset files: inside the data dir, only its datasets folder
and an allowed directory that lies inside it (not the data dir itself, nor a directory above it) open a file
(llama_mesh/readable_paths.py; file_rows.py opens just the file that was checked)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlparse

from llama.common.v1 import resources_pb2 as res
from llama_mesh.readable_paths import LocalFiles, readable_path
from llama_mesh.runtime.errors import InvalidArgument

SOURCE_FIELD = "dataset.source"
URI_FIELD = "dataset.source.uri"
HF_SCHEMES = ("huggingface", "hf")
DATASETS_FOLDER = "datasets"  # the data dir's folder for dataset files: the default allowed directory
DATASET_FILES = LocalFiles(
    folder=DATASETS_FOLDER,
    nul="a dataset path must not contain a NUL byte",
    not_absolute="{uri!r} is not absolute: use file:///abs/path.jsonl or /abs/path.jsonl",
    in_data_dir="{uri!r} is inside the mesh's data dir, whose files are its own (databases, jobs, uploads); put "
    f"dataset files in its {DATASETS_FOLDER!r} folder (or a directory of the provider's allowed_dirs)",
    outside="{uri!r} is outside the directories the datasetio service may read; copy the file into one of them "
    "(its provider's allowed_dirs, which the operator of the mesh sets) or register the rows inline",
)
# A hub dataset id: `name` or `owner/name`, each part 1-96 letters, digits, `.`, `_`, `-`, starting with a letter or a
# digit (so no `..`, no absolute or relative path can be named).
HF_REPO_ID = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
# load_dataset's data_dir: a folder inside the hub repository.
_HF_DATA_DIR = re.compile(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*")


@dataclass(frozen=True)
class InlineSource:
    pass


@dataclass(frozen=True)
class FileSource:
    path: Path
    # the uri as the caller gave it: what messages name (never `path`, which is resolved where the service runs)
    uri: str = field(default="", compare=False)


@dataclass(frozen=True)
class HuggingFaceSource:
    repo: str
    split: str = "train"
    # Other load_dataset keywords from the query string, e.g. name (the configuration), revision.
    options: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"huggingface://{self.repo} (split {self.split})"


Source = InlineSource | FileSource | HuggingFaceSource


def huggingface_source(uri: str) -> HuggingFaceSource:
    parsed = urlparse(uri)
    # Llama Stack writes huggingface://datasets/owner/name; the "datasets/" part is the hub's URL path, not the name.
    repo = (parsed.netloc + parsed.path).strip("/").removeprefix("datasets/")
    if not repo or not parsed.netloc:
        raise InvalidArgument(URI_FIELD, f"{uri!r} names no dataset: use huggingface://owner/name?split=test")
    if not HF_REPO_ID.fullmatch(repo) or ".." in repo or "--" in repo or repo.endswith((".git", ".py")):
        raise InvalidArgument(
            URI_FIELD,
            f"{repo[:100]!r} is not a Hugging Face dataset id: use owner/name (letters, digits, . _ -)",
            reason="HUGGINGFACE_DATASET_INVALID",
        )
    options = dict(parse_qsl(parsed.query))
    split = options.pop("split", "train")
    unknown = set(options) - {"name", "revision", "data_dir"}
    if unknown:
        raise InvalidArgument(
            URI_FIELD, f"unknown option(s) {', '.join(sorted(unknown))}; known: split, name, revision, data_dir"
        )
    data_dir = options.get("data_dir")
    if data_dir is not None and (not _HF_DATA_DIR.fullmatch(data_dir) or ".." in data_dir.split("/")):
        raise InvalidArgument(URI_FIELD, "data_dir must be a folder inside the dataset's repository")
    if any("\x00" in value for value in (split, *options.values())):
        raise InvalidArgument(URI_FIELD, "options must not contain a NUL byte")
    return HuggingFaceSource(repo=repo, split=split, options=options)


def parse_source(dataset: res.Dataset, allowed_dirs: tuple[Path, ...], data_dir: Path | None = None) -> Source:
    kind = dataset.source.WhichOneof("source")
    if kind == "rows":
        return InlineSource()
    if kind != "uri" or not dataset.source.uri:
        raise InvalidArgument(SOURCE_FIELD, "is required: inline rows or a uri (file:// path or huggingface://)")
    uri = dataset.source.uri
    scheme = urlparse(uri).scheme
    if scheme in HF_SCHEMES:
        return huggingface_source(uri)
    if scheme in ("", "file"):
        return FileSource(readable_path(uri, URI_FIELD, DATASET_FILES, allowed_dirs, data_dir), uri)
    raise InvalidArgument(URI_FIELD, f"unsupported scheme {scheme!r}: use file:// (or a path) or huggingface://")
