"""inline::localfs: datasets from inline rows, local files (JSONL, CSV, Parquet) inside the allowed directories, or
Hugging Face; rows appended later live in SQLite under the data dir, after the source's own rows."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from llama.common.v1 import resources_pb2 as res
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument, MeshError
from services.datasetio.appended_rows import AppendedRows
from services.datasetio.file_rows import SourceError, read_rows
from services.datasetio.huggingface_rows import huggingface_rows
from services.datasetio.provider import DatasetProvider, RowsWindow
from services.datasetio.purposes import check_columns, check_purpose
from services.datasetio.row_values import Row, from_struct
from services.datasetio.sources import (
    DATASETS_FOLDER,
    SOURCE_FIELD,
    URI_FIELD,
    FileSource,
    HuggingFaceSource,
    Source,
    parse_source,
)


class LocalFSConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Local dataset files are read only from inside these directories (default: the `datasets` folder of the
    # distribution's data dir). The rest of the data dir (the mesh's databases, job and upload files) is never read,
    # whatever this lists: inside it, only a listed directory inside it counts.
    allowed_dirs: list[str] = Field(default_factory=list)
    # Seconds to wait for the Hugging Face hub to answer before a dataset is UNAVAILABLE, and for a load to finish.
    hub_probe_timeout_s: float = Field(default=10.0, gt=0)
    hub_load_timeout_s: float = Field(default=600.0, gt=0)
    # File and Hugging Face datasets whose rows are kept in memory (least recently used are dropped).
    cached_datasets: int = Field(default=8, ge=0)


class LocalFSDatasets(DatasetProvider):
    def __init__(self, provider_id: str, config: LocalFSConfig, data_dir: Path) -> None:
        super().__init__(provider_id)
        self._config = config
        if not config.allowed_dirs:  # the default folder exists, for operators to put dataset files in
            (data_dir / DATASETS_FOLDER).mkdir(parents=True, exist_ok=True)
        dirs = [Path(d).expanduser() for d in config.allowed_dirs] or [data_dir / DATASETS_FOLDER]
        self._allowed = tuple(d.resolve() for d in dirs)
        self._data_dir = data_dir.expanduser().resolve()
        self._appended = AppendedRows(data_dir / "datasetio" / provider_id / "appended_rows.db")
        self._cache: OrderedDict[Hashable, list[Row]] = OrderedDict()

    async def prepare(self, dataset: res.Dataset) -> res.Dataset:
        check_purpose(dataset.purpose)
        rows = await self._source_rows(dataset, registering=True)
        check_columns(rows, dataset.purpose, SOURCE_FIELD)
        # Rows left under this id by an earlier registration (an append that raced its unregister, or a crash
        # between the registry's delete and the release) are not this dataset's.
        await self.forget(dataset.identifier)
        return dataset

    async def kept(self) -> list[str]:
        return await asyncio.to_thread(self._appended.dataset_ids)

    async def forget(self, dataset_id: str) -> None:
        await asyncio.to_thread(self._appended.drop, dataset_id)

    async def window(self, dataset: res.Dataset, start: int, limit: int) -> RowsWindow:
        base = await self._source_rows(dataset, registering=False)
        appended = await asyncio.to_thread(self._appended.count, dataset.identifier)
        rows = base[start : start + limit]
        if len(rows) < limit and start + len(rows) >= len(base):
            offset = max(start - len(base), 0)
            rows = rows + await asyncio.to_thread(self._appended.window, dataset.identifier, offset, limit - len(rows))
        return RowsWindow(rows=rows, total=len(base) + appended)

    async def append(self, dataset: res.Dataset, rows: Sequence[Row]) -> int:
        if isinstance(await self._source(dataset), HuggingFaceSource):
            raise FailedPrecondition(
                f"dataset {dataset.identifier!r} comes from Hugging Face and is read-only; register a local copy to "
                "append rows to it",
                reason="DATASET_READ_ONLY",
                dataset_id=dataset.identifier,
            )
        check_columns(rows, dataset.purpose, "rows")
        base = await self._source_rows(dataset, registering=False)
        try:
            appended = await asyncio.to_thread(self._appended.append, dataset.identifier, rows)
        except ValueError as exc:  # NaN or infinity: not storable as JSON
            raise InvalidArgument("rows", f"numbers must be finite ({exc})") from exc
        return len(base) + appended

    async def close(self) -> None:
        await asyncio.to_thread(self._appended.close)

    async def _source_rows(self, dataset: res.Dataset, *, registering: bool) -> list[Row]:
        """The rows of the dataset's own source. Unreadable sources: INVALID_ARGUMENT while registering (the source
        is in the request), FAILED_PRECONDITION later (the source changed, or was pre-registered unchecked)."""
        source = await self._source(dataset)
        try:
            if isinstance(source, FileSource):
                return await self._file_rows(source)
            if isinstance(source, HuggingFaceSource):
                key = (source.repo, source.split, tuple(sorted(source.options.items())))
                cached = self._cached(key)
                if cached is None:
                    cached = await huggingface_rows(
                        source, self._config.hub_probe_timeout_s, self._config.hub_load_timeout_s
                    )
                    self._remember(key, cached)
                return cached
        except SourceError as exc:
            if registering:
                raise InvalidArgument(URI_FIELD, exc.message, reason=exc.reason, **exc.details) from exc
            raise FailedPrecondition(
                f"dataset {dataset.identifier!r} cannot be read: {exc.message}",
                reason=exc.reason,
                dataset_id=dataset.identifier,
                **exc.details,
            ) from exc
        except MeshError:
            raise
        return [from_struct(row, f"{SOURCE_FIELD}.rows[{index}]") for index, row in enumerate(dataset.source.rows.rows)]

    async def _source(self, dataset: res.Dataset) -> Source:
        """The dataset's source; resolving a path touches the file system, so it runs in a worker thread."""
        return await asyncio.to_thread(parse_source, dataset, self._allowed, self._data_dir)

    async def _file_rows(self, source: FileSource) -> list[Row]:
        path = source.path
        try:
            stat = await asyncio.to_thread(path.stat)
        except FileNotFoundError as exc:
            raise SourceError(f"{source.uri!r} does not exist", reason="DATASET_FILE_NOT_FOUND") from exc
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        cached = self._cached(key)
        if cached is None:
            cached = await asyncio.to_thread(read_rows, path)
            self._remember(key, cached)
        return cached

    def _cached(self, key: Hashable) -> list[Row] | None:
        rows = self._cache.get(key)
        if rows is not None:
            self._cache.move_to_end(key)
        return rows

    def _remember(self, key: Hashable, rows: list[Row]) -> None:
        if self._config.cached_datasets <= 0:
            return
        self._cache[key] = rows
        while len(self._cache) > self._config.cached_datasets:
            self._cache.popitem(last=False)
