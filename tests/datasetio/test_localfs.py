"""The inline::localfs provider on its own: windows over a file's rows plus appended rows, appends that survive a new
provider instance, a new registration that drops rows an earlier one left, read-only Hugging Face sources, and an
unreachable hub answered at once."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
from google.protobuf import struct_pb2

from llama.common.v1 import resources_pb2 as res
from llama.datasetio.v1 import datasetio_pb2, datasetio_pb2_grpc
from llama_mesh.launcher import free_loopback_port
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument, Unavailable
from services.datasetio.providers import DatasetProviders
from services.datasetio.providers.localfs import LocalFSConfig, LocalFSDatasets
from services.datasetio.row_values import to_struct
from services.datasetio.servicer import DatasetIOServicer
from tests.fast.harness import as_resolved, connected

ROWS = [{"input_query": f"q{n}", "expected_answer": f"a{n}"} for n in range(4)]


def file_dataset(path: Path) -> res.Dataset:
    return res.Dataset(
        identifier="qa",
        provider_id="localfs",
        purpose=res.DATASET_PURPOSE_EVAL_QUESTION_ANSWER,
        source=res.DataSource(uri=str(path)),
    )


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    """A dataset file where the provider reads them by default: the data dir's `datasets` folder."""
    path = tmp_path / "datasets" / "qa.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    return path


async def test_windows_span_the_file_and_the_appended_rows(tmp_path: Path, data_file: Path) -> None:
    provider = LocalFSDatasets("localfs", LocalFSConfig(), tmp_path)
    dataset = await provider.prepare(file_dataset(data_file))
    extra = [{"input_query": "q4", "expected_answer": "a4"}, {"input_query": "q5", "expected_answer": "a5"}]
    assert await provider.append(dataset, extra) == 6
    await provider.close()
    reopened = LocalFSDatasets("localfs", LocalFSConfig(), tmp_path)  # appended rows come from disk
    window = await reopened.window(dataset, 3, 2)
    assert window.rows == [ROWS[3], extra[0]] and window.total == 6
    assert (await reopened.window(dataset, 5, 10)).rows == [extra[1]]
    assert (await reopened.window(dataset, 9, 10)).rows == []
    await reopened.release(dataset)
    assert (await reopened.window(dataset, 0, 10)).total == 4
    await reopened.close()


async def test_a_new_registration_starts_without_rows_an_earlier_one_left(tmp_path: Path, data_file: Path) -> None:
    provider = LocalFSDatasets("localfs", LocalFSConfig(), tmp_path)
    dataset = await provider.prepare(file_dataset(data_file))
    await provider.append(dataset, [{"input_query": "q4", "expected_answer": "a4"}])
    other = res.Dataset(identifier="other", purpose=dataset.purpose, source=dataset.source)
    await provider.append(other, [{"input_query": "x", "expected_answer": "y"}])  # rows without a registration
    assert await provider.kept() == ["other", "qa"]
    await provider.prepare(file_dataset(data_file))  # "qa" registered again: the leftover row is not its
    assert (await provider.window(dataset, 0, 10)).total == 4
    assert await provider.kept() == ["other"]
    await provider.forget("other")
    await provider.forget("never-had-rows")
    assert await provider.kept() == []
    await provider.close()


async def test_an_append_missing_a_column_stores_nothing(tmp_path: Path, data_file: Path) -> None:
    provider = LocalFSDatasets("localfs", LocalFSConfig(), tmp_path)
    dataset = file_dataset(data_file)
    with pytest.raises(InvalidArgument):
        await provider.append(dataset, [ROWS[0], {"input_query": "only a question"}])
    assert (await provider.window(dataset, 0, 100)).total == 4
    await provider.close()


async def test_huggingface_datasets_are_read_only(tmp_path: Path) -> None:
    provider = LocalFSDatasets("localfs", LocalFSConfig(), tmp_path)
    dataset = res.Dataset(identifier="hf", source=res.DataSource(uri="huggingface://owner/name"))
    with pytest.raises(FailedPrecondition, match="read-only"):
        await provider.append(dataset, [{"a": 1}])
    await provider.close()


async def test_an_unreachable_hub_is_unavailable_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_loopback_port()}")  # nothing listens there
    provider = LocalFSDatasets("localfs", LocalFSConfig(hub_probe_timeout_s=5), tmp_path)
    dataset = res.Dataset(identifier="hf", source=res.DataSource(uri="huggingface://llamastack/simpleqa?split=train"))
    with pytest.raises(Unavailable) as caught:
        await provider.prepare(dataset)
    assert caught.value.reason == "HUGGINGFACE_UNREACHABLE" and "not reachable" in caught.value.message
    assert "127.0.0.1" not in caught.value.message and not caught.value.metadata  # the hub's address: the log's
    await provider.close()


async def test_nan_or_infinity_in_rows_is_invalid_argument_and_stores_nothing(tmp_path: Path, data_file: Path) -> None:
    provider = LocalFSDatasets("localfs", LocalFSConfig(), tmp_path)
    dataset = await provider.prepare(file_dataset(data_file))
    servicer = DatasetIOServicer(DatasetProviders({"localfs": provider}))
    async with connected((datasetio_pb2_grpc.add_DatasetIOServiceServicer_to_server, servicer)) as channel:
        stub = datasetio_pb2_grpc.DatasetIOServiceStub(channel)
        rows = [to_struct(ROWS[0]), to_struct({**ROWS[1], "weight": float("nan")})]
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.AppendRows(
                datasetio_pb2.AppendRowsRequest(dataset_id="qa", rows=rows), metadata=as_resolved(dataset), timeout=30
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert refused.value.details().startswith("rows[1]: holds NaN or Infinity")
    assert (await provider.window(dataset, 0, 100)).total == 4
    inline = res.Dataset(identifier="inline", provider_id="localfs")
    inline.source.rows.rows.append(to_struct({"score": float("inf")}))
    with pytest.raises(InvalidArgument, match=r"dataset.source.rows\[0\]: holds NaN or Infinity"):
        await provider.prepare(inline)
    await provider.close()


def test_structs_round_trip() -> None:
    from services.datasetio.row_values import from_struct

    struct = to_struct({"a": [1, {"b": None}], "c": "x"})
    assert isinstance(struct, struct_pb2.Struct)
    assert from_struct(struct, "rows") == {"a": [1.0, {"b": None}], "c": "x"}
