"""The datasetio service behind a real gateway: datasets registered from inline rows and JSONL / CSV / Parquet files,
read in pages, appended to (surviving a restart of the service), and bad input refused without losing anything."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from google.protobuf import struct_pb2

from llama.common.v1 import resources_pb2 as res
from llama.datasetio.v1 import datasetio_pb2, datasetio_pb2_grpc
from llama.registry.v1 import registry_pb2, registry_pb2_grpc
from llama_mesh.launcher import LocalMesh, isolated_env
from tests.mesh.helpers import expect_error, reason_and_field, run_cli

QA = res.DATASET_PURPOSE_EVAL_QUESTION_ANSWER
# The schema of Llama Stack's eval datasets on the hub (e.g. llamastack/mmlu_cot), in small local files.
ROWS = [
    {"input_query": f"What is {n} + {n}?", "expected_answer": str(2 * n), "chat_completion_input": "[]"}
    for n in range(7)
]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMesh]:
    """The gateway and the datasetio service of local-cpu as real processes (no models needed here)."""
    root = tmp_path_factory.mktemp("datasetio-mesh")
    mesh = LocalMesh("local-cpu", env=isolated_env(root / "data"), log_dir=root / "logs")
    mesh.start(only={"gateway", "datasetio"})
    yield mesh
    mesh.stop()


@pytest.fixture(scope="module")
def data_dir(mesh: LocalMesh) -> Path:
    return Path(mesh.config.data_dir)


@pytest.fixture(scope="module")
def datasets_dir(data_dir: Path) -> Path:
    """Where the datasetio service reads dataset files by default: the data dir's `datasets` folder."""
    return data_dir / "datasets"


@pytest.fixture(scope="module")
def channel(mesh: LocalMesh) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(mesh.gateway_address) as channel:
        yield channel


@pytest.fixture(scope="module")
def registry(channel: grpc.Channel) -> registry_pb2_grpc.RegistryServiceStub:
    return registry_pb2_grpc.RegistryServiceStub(channel)


@pytest.fixture(scope="module")
def datasetio(channel: grpc.Channel) -> datasetio_pb2_grpc.DatasetIOServiceStub:
    return datasetio_pb2_grpc.DatasetIOServiceStub(channel)


def struct(row: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(row)
    return message


def register(registry, identifier: str, *, uri: str = "", rows: list[dict] | None = None, purpose: int = QA):
    source = res.DataSource(uri=uri) if uri else res.DataSource(rows=res.RowsSource(rows=[struct(r) for r in rows]))
    dataset = res.Dataset(identifier=identifier, purpose=purpose, source=source)
    return registry.RegisterDataset(registry_pb2.RegisterDatasetRequest(dataset=dataset), timeout=30)


def read_all(datasetio, dataset_id: str, limit: int) -> tuple[list[dict], list[datasetio_pb2.IterRowsResponse]]:
    rows: list[dict] = []
    pages: list[datasetio_pb2.IterRowsResponse] = []
    start = 0
    while True:
        page = datasetio.IterRows(
            datasetio_pb2.IterRowsRequest(dataset_id=dataset_id, start_index=start, limit=limit), timeout=30
        )
        pages.append(page)
        rows.extend(dict(row) for row in page.rows)
        if not page.HasField("next_start_index"):
            return rows, pages
        start = page.next_start_index


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def write_csv(path: Path, rows: list[dict]) -> Path:
    import csv

    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_parquet(path: Path, rows: list[dict]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


WRITERS = {"jsonl": write_jsonl, "csv": write_csv, "parquet": write_parquet}


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "parquet"])
def test_a_file_dataset_is_read_in_pages(registry, datasetio, datasets_dir: Path, suffix: str) -> None:
    path = WRITERS[suffix](datasets_dir / f"qa.{suffix}", ROWS)
    registered = register(registry, f"test/qa-{suffix}", uri=f"file://{path}")
    assert registered.provider_id == "localfs"
    rows, pages = read_all(datasetio, f"test/qa-{suffix}", limit=3)
    assert rows == ROWS
    assert [len(page.rows) for page in pages] == [3, 3, 1]
    assert [page.next_start_index for page in pages[:-1]] == [3, 6]
    assert all(page.total_rows == 7 for page in pages)


def test_inline_rows_are_read_in_pages_and_past_the_end_is_empty(registry, datasetio) -> None:
    register(registry, "test/inline", rows=ROWS[:5])
    rows, pages = read_all(datasetio, "test/inline", limit=2)
    assert rows == ROWS[:5]
    assert [len(page.rows) for page in pages] == [2, 2, 1]
    past = datasetio.IterRows(datasetio_pb2.IterRowsRequest(dataset_id="test/inline", start_index=50), timeout=30)
    assert list(past.rows) == [] and not past.HasField("next_start_index") and past.total_rows == 5
    default = datasetio.IterRows(datasetio_pb2.IterRowsRequest(dataset_id="test/inline"), timeout=30)
    assert len(default.rows) == 5 and not default.HasField("next_start_index")


def stop_and_restart_datasetio(mesh: LocalMesh, datasetio) -> None:
    """Restart the service, then wait until the gateway reaches it again (its channel backs off while the service
    is down, and answers UNAVAILABLE until it reconnects)."""
    process = mesh.processes["datasetio"]
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    mesh.start(only={"datasetio"})
    probe = datasetio_pb2.IterRowsRequest(dataset_id="test/appendable", limit=1)
    for _ in range(60):
        try:
            datasetio.IterRows(probe, timeout=30)
            return
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNAVAILABLE:
                raise
            time.sleep(0.5)
    raise AssertionError("the gateway did not reach the restarted datasetio service")


def test_appended_rows_follow_the_source_and_survive_a_restart(mesh, registry, datasetio, datasets_dir: Path) -> None:
    path = write_jsonl(datasets_dir / "appendable.jsonl", ROWS[:2])
    original = path.read_bytes()
    register(registry, "test/appendable", uri=str(path))
    extra = [{"input_query": "And 10 + 10?", "expected_answer": "20", "difficulty": 1}]
    reply = datasetio.AppendRows(
        datasetio_pb2.AppendRowsRequest(dataset_id="test/appendable", rows=[struct(r) for r in extra]), timeout=30
    )
    assert reply.appended_rows == 1 and reply.total_rows == 3
    stop_and_restart_datasetio(mesh, datasetio)
    rows, _ = read_all(datasetio, "test/appendable", limit=2)
    assert rows == ROWS[:2] + extra
    assert path.read_bytes() == original  # the file itself is never written to


def test_a_bad_append_is_refused_whole(registry, datasetio) -> None:
    register(registry, "test/all-or-none", rows=ROWS[:1])
    rows = [struct(ROWS[1]), struct({"input_query": "no answer here"})]
    error = expect_error(
        lambda: datasetio.AppendRows(datasetio_pb2.AppendRowsRequest(dataset_id="test/all-or-none", rows=rows)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "row 1" in error.details() and "expected_answer" in error.details()
    assert reason_and_field(error) == ("MISSING_COLUMN", "rows")
    after, _ = read_all(datasetio, "test/all-or-none", limit=10)
    assert after == ROWS[:1]


def test_unregistering_drops_appended_rows(registry, datasetio) -> None:
    register(registry, "test/reused-name", rows=ROWS[:1])
    datasetio.AppendRows(
        datasetio_pb2.AppendRowsRequest(dataset_id="test/reused-name", rows=[struct(ROWS[1])]), timeout=30
    )
    registry.UnregisterDataset(registry_pb2.UnregisterDatasetRequest(dataset_id="test/reused-name"), timeout=30)
    register(registry, "test/reused-name", rows=ROWS[:1])
    rows, _ = read_all(datasetio, "test/reused-name", limit=10)
    assert rows == ROWS[:1]


def test_a_malformed_file_is_refused_naming_the_line(registry, datasets_dir: Path) -> None:
    path = datasets_dir / "broken.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps(ROWS[1]) + "\n{not json\n")
    error = expect_error(
        lambda: register(registry, "test/broken", uri=f"file://{path}"), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert "line 3" in error.details()
    assert reason_and_field(error) == ("MALFORMED_DATASET_FILE", "dataset.source.uri")
    expect_error(
        lambda: registry.GetDataset(registry_pb2.GetDatasetRequest(dataset_id="test/broken")), grpc.StatusCode.NOT_FOUND
    )


def test_a_csv_row_with_too_many_cells_names_its_line(registry, datasets_dir: Path) -> None:
    path = datasets_dir / "ragged.csv"
    path.write_text("input_query,expected_answer\nWhat is 1+1?,2\nWhat is 2+2?,4,extra\n")
    error = expect_error(lambda: register(registry, "test/ragged", uri=str(path)), grpc.StatusCode.INVALID_ARGUMENT)
    assert "line 3" in error.details()


def test_a_file_without_the_purpose_columns_is_refused(registry, datasets_dir: Path) -> None:
    path = write_jsonl(datasets_dir / "no-answers.jsonl", [{"input_query": "Hi?"}])
    error = expect_error(lambda: register(registry, "test/no-answers", uri=str(path)), grpc.StatusCode.INVALID_ARGUMENT)
    assert "row 0" in error.details() and "expected_answer" in error.details()
    assert reason_and_field(error)[0] == "MISSING_COLUMN"


def test_a_path_outside_the_allowed_dirs_is_refused(registry, tmp_path: Path, data_dir: Path) -> None:
    outside = write_jsonl(tmp_path / "secret.jsonl", ROWS)
    error = expect_error(
        lambda: register(registry, "test/outside", uri=f"file://{outside}"), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert reason_and_field(error) == ("PATH_NOT_ALLOWED", "dataset.source.uri")
    assert "outside the directories" in error.details()
    assert str(outside) in error.details() and str(data_dir) not in error.details()  # not the allowed dirs


def test_the_meshs_own_files_are_no_datasets(registry, data_dir: Path, datasets_dir: Path) -> None:
    """Another job's training rows (a post-training work directory) and the mesh's databases lie in the data dir but
    outside its `datasets` folder: no registration reads them, however the path is spelled (a symlink included)."""
    work = data_dir / "post_training" / "work" / "sft-someone-else"
    work.mkdir(parents=True)
    rows = write_jsonl(work / "rows.jsonl", ROWS)
    assert (data_dir / "registry.db").is_file()  # the gateway's registry: a SQLite file of the mesh

    def refused(uri: str) -> None:
        error = expect_error(lambda: register(registry, "test/mesh-file", uri=uri), grpc.StatusCode.INVALID_ARGUMENT)
        assert reason_and_field(error) == ("PATH_NOT_ALLOWED", "dataset.source.uri"), error.details()
        assert "'datasets' folder" in error.details()

    refused(f"file://{rows}")
    refused(str(rows))
    refused(f"file://{data_dir}/registry.db")
    refused(f"file://{datasets_dir}/../post_training/work/sft-someone-else/rows.jsonl")
    (datasets_dir / "mesh-link").symlink_to(data_dir, target_is_directory=True)
    refused(f"file://{datasets_dir}/mesh-link/post_training/work/sft-someone-else/rows.jsonl")


def test_a_missing_or_unreadable_file_is_named_as_the_caller_gave_it(
    registry, datasets_dir: Path, data_dir: Path
) -> None:
    """The uri as given (the caller knows it), never the path the service resolved it to (symlinks followed)."""
    (datasets_dir / "alias").symlink_to(datasets_dir / "real-folder", target_is_directory=True)
    (datasets_dir / "real-folder").mkdir()
    uri = f"file://{datasets_dir}/alias/missing.jsonl"
    error = expect_error(lambda: register(registry, "test/missing", uri=uri), grpc.StatusCode.INVALID_ARGUMENT)
    assert reason_and_field(error) == ("DATASET_FILE_NOT_FOUND", "dataset.source.uri")
    assert uri in error.details() and "real-folder" not in error.details(), error.details()
    (datasets_dir / "real-folder" / "folder.jsonl").mkdir()  # unreadable as a file, whoever runs the service
    uri = f"file://{datasets_dir}/alias/folder.jsonl"
    error = expect_error(lambda: register(registry, "test/folder", uri=uri), grpc.StatusCode.INVALID_ARGUMENT)
    assert reason_and_field(error) == ("DATASET_FILE_UNREADABLE", "dataset.source.uri")
    assert "real-folder" not in error.details() and str(data_dir) not in error.details(), error.details()


def test_huggingface_sources_are_unavailable_without_the_hub(registry) -> None:
    error = expect_error(
        lambda: register(registry, "test/hf", uri="huggingface://llamastack/mmlu_cot?split=test&name=all"),
        grpc.StatusCode.UNAVAILABLE,
    )
    assert reason_and_field(error)[0] == "HUGGINGFACE_UNREACHABLE"
    assert "local copy" in error.details()


def test_bad_windows_and_unknown_datasets_are_clear_errors(registry, datasetio) -> None:
    register(registry, "test/windows", rows=ROWS[:2])
    error = expect_error(
        lambda: datasetio.IterRows(datasetio_pb2.IterRowsRequest(dataset_id="test/windows", start_index=-1)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert reason_and_field(error)[1] == "start_index"
    error = expect_error(
        lambda: datasetio.IterRows(datasetio_pb2.IterRowsRequest(dataset_id="test/windows", limit=-5)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert reason_and_field(error)[1] == "limit"
    error = expect_error(
        lambda: datasetio.IterRows(datasetio_pb2.IterRowsRequest(dataset_id="test/no-such-dataset")),
        grpc.StatusCode.NOT_FOUND,
    )
    assert reason_and_field(error)[0] == "RESOURCE_NOT_FOUND"
    error = expect_error(
        lambda: datasetio.AppendRows(datasetio_pb2.AppendRowsRequest(dataset_id="test/windows")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert reason_and_field(error)[1] == "rows"


def test_a_file_changed_after_registration_is_a_failed_precondition(registry, datasetio, datasets_dir: Path) -> None:
    path = write_jsonl(datasets_dir / "changing.jsonl", ROWS[:2])
    register(registry, "test/changing", uri=str(path))
    path.write_text("{broken\n")
    error = expect_error(
        lambda: datasetio.IterRows(datasetio_pb2.IterRowsRequest(dataset_id="test/changing")),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert "line 1" in error.details() and "test/changing" in error.details()


def test_cli_registers_datasets_and_pages_their_rows(mesh, datasets_dir: Path, tmp_path: Path) -> None:
    path = write_csv(datasets_dir / "cli.csv", ROWS)
    done = run_cli(mesh, "datasets", "register", "test/cli-qa", "--uri", str(path))
    assert done.returncode == 0, done.stderr
    assert "registered dataset test/cli-qa" in done.stdout
    page = run_cli(mesh, "datasets", "rows", "test/cli-qa", "--start", "2", "--limit", "3")
    assert page.returncode == 0, page.stderr
    assert [json.loads(line) for line in page.stdout.splitlines()] == ROWS[2:5]
    assert "rows 2-4 of 7; next: --start 5" in page.stderr
    everything = run_cli(mesh, "datasets", "rows", "test/cli-qa", "--all", "--limit", "2")
    assert [json.loads(line) for line in everything.stdout.splitlines()] == ROWS
    inline = write_jsonl(tmp_path / "local-rows.jsonl", ROWS[:2])  # sent as inline rows: any local path will do
    done = run_cli(mesh, "datasets", "register", "test/cli-inline", "--rows-file", str(inline))
    assert done.returncode == 0, done.stderr
    listed = run_cli(mesh, "--json", "datasets", "list")
    assert {"test/cli-qa", "test/cli-inline"} <= {item["identifier"] for item in json.loads(listed.stdout)}
    missing = run_cli(mesh, "datasets", "rows", "test/cli-nothing")
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr
