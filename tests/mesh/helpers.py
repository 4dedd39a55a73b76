"""Small helpers for mesh tests: building requests and reading error details."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import openai
import pytest
from google.protobuf import struct_pb2

from llama.common.v1 import content_pb2, messages_pb2, sampling_pb2
from llama.vector_io.v1 import vector_io_pb2
from llama_mesh.launcher import LocalMesh, isolated_env
from llama_mesh.openai_caps import MAX_KEY_CHARS, MAX_PAIRS, MAX_VALUE_CHARS
from llama_mesh.runtime.errors import error_info

CHAT_MODEL = "smollm2-135m-instruct"
EMBEDDING_MODEL = "all-MiniLM-L6-v2"
WRITER_WAIT_SECONDS = 300  # a loaded machine is slow; a broken mesh never gets there
# `metadata` past each of OpenAI's caps by one (llama_mesh/openai_caps.py); `attributes` may not nest either.
PAST_METADATA_CAPS: dict[str, dict[str, object]] = {
    "a 65-character key": {"k" * (MAX_KEY_CHARS + 1): "v"},
    "a 513-character value": {"k": "v" * (MAX_VALUE_CHARS + 1)},
    "17 pairs": {f"k{index}": "v" for index in range(MAX_PAIRS + 1)},
}
PAST_ATTRIBUTE_CAPS = {**PAST_METADATA_CAPS, "an object as a value": {"k": {"nested": "object"}}}


def start_training_mesh(root: Path, services: set[str]) -> LocalMesh:
    """Some services of local-cpu, started, for tests that train: data under `root`, no trace export, and one
    training thread (on a busy 2-core machine a second OpenMP thread mostly spins)."""
    env = isolated_env(root / "data")
    env.update({"LLAMA_MESH_TRACE_EXPORTER": "none", "LLAMA_MESH_POST_TRAINING_THREADS": "1"})
    mesh = LocalMesh("local-cpu", env=env, log_dir=root / "logs")
    mesh.start(only=services)
    return mesh


def marker_chunk(number: int, dimension: int = 384) -> vector_io_pb2.Chunk:
    """Chunk `c<number>` with the text `marker <number>` and a one-hot embedding (no embedding model needed)."""
    embedding = [0.0] * dimension
    embedding[number % dimension] = 1.0
    return vector_io_pb2.Chunk(
        chunk_id=f"c{number}", content=content_pb2.Content(text=f"marker {number}"), embedding=embedding
    )


def struct(**values: object) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(values)
    return result


def user(text: str) -> messages_pb2.Message:
    return messages_pb2.Message(role=messages_pb2.ROLE_USER, content=content_pb2.Content(text=text))


def assistant(text: str) -> messages_pb2.Message:
    return messages_pb2.Message(role=messages_pb2.ROLE_ASSISTANT, content=content_pb2.Content(text=text))


def system(text: str) -> messages_pb2.Message:
    return messages_pb2.Message(role=messages_pb2.ROLE_SYSTEM, content=content_pb2.Content(text=text))


def greedy(max_tokens: int) -> sampling_pb2.SamplingParams:
    return sampling_pb2.SamplingParams(max_tokens=max_tokens)


def expect_error(call, code: grpc.StatusCode) -> grpc.RpcError:
    """Run `call`, assert it fails with `code`, and return the error."""
    with pytest.raises(grpc.RpcError) as caught:
        call()
    error = caught.value
    assert error.code() == code, f"expected {code}, got {error.code()}: {error.details()}"
    return error


def refused(param: str, call: Callable[..., object], saying: str = "", **arguments: object) -> None:
    """`call(**arguments)`, an SDK call, is a 400 naming `param`, its message going on with `saying`."""
    with pytest.raises(openai.BadRequestError) as caught:
        call(**arguments)
    body = caught.value.body
    assert isinstance(body, dict) and body["param"] == param, (param, body)
    assert body["message"].startswith(f"{param}: {saying}") and body["type"] == "invalid_request_error", body


def reason_and_field(error: grpc.RpcError) -> tuple[str, str]:
    info = error_info(error)
    assert info is not None, f"no ErrorInfo in {error.details()}"
    assert info.domain == "llama-mesh"
    return info.reason, info.metadata.get("field", "")


def run_cli(
    mesh: LocalMesh, *args: str, timeout: float = 300, columns: int | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`llama-mesh --gateway <mesh's gateway> ARGS...` in a subprocess; `columns` widens rich's tables; `input` is
    written to its stdin (none given: stdin is empty)."""
    env = {**os.environ, "COLUMNS": str(columns)} if columns else None
    return subprocess.run(
        [sys.executable, "-m", "llama_mesh.cli.main", "--gateway", mesh.gateway_address, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        input=input,
    )


# Where the docs' OpenAI examples point (the edge of `make up`); the tests run them against the session mesh's edge.
DOC_EDGE_URL = "http://127.0.0.1:8321/v1"


def run_doc_example(code: str, edge_url: str, cwd: Path) -> str:
    """Runs a Python example of the docs against `edge_url`; its standard output (it must exit 0)."""
    assert DOC_EDGE_URL in code
    result = subprocess.run(
        [sys.executable, "-c", code.replace(DOC_EDGE_URL, edge_url)],
        cwd=cwd, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


class Writer(threading.Thread):
    """Calls `write(n)` for n = 0, 1, 2... until stopped; remembers which calls were acknowledged and the status
    codes of those that failed."""

    def __init__(self, write: Callable[[int], object]) -> None:
        super().__init__(daemon=True)
        self._write = write
        self._stopping = threading.Event()
        self.acknowledged: list[int] = []
        self.failures: list[grpc.StatusCode] = []
        self.errors: list[str] = []  # the failures' details, for assertion messages

    def run(self) -> None:
        number = 0
        while not self._stopping.is_set():
            try:
                self._write(number)
                self.acknowledged.append(number)
            except grpc.RpcError as error:
                self.failures.append(error.code())
                self.errors.append(f"{error.code().name}: {error.details()}")
                self._stopping.wait(0.1)
            number += 1

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + WRITER_WAIT_SECONDS
        while len(self.acknowledged) < count:
            assert time.monotonic() < deadline, f"only {len(self.acknowledged)} writes acknowledged: {self.errors}"
            self._stopping.wait(0.05)

    def finish(self) -> None:
        self._stopping.set()
        self.join(timeout=WRITER_WAIT_SECONDS)
