"""Small helpers for mesh tests: building requests and reading error details."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf import struct_pb2

from llama.common.v1 import content_pb2, messages_pb2, sampling_pb2
from llama_mesh.launcher import LocalMesh, isolated_env
from llama_mesh.runtime.errors import error_info

CHAT_MODEL = "smollm2-135m-instruct"
EMBEDDING_MODEL = "all-MiniLM-L6-v2"


def start_training_mesh(root: Path, services: set[str]) -> LocalMesh:
    """Some services of local-cpu, started, for tests that train: data under `root`, no trace export, and one
    training thread (on a busy 2-core machine a second OpenMP thread mostly spins)."""
    env = isolated_env(root / "data")
    env.update({"LLAMA_MESH_TRACE_EXPORTER": "none", "LLAMA_MESH_POST_TRAINING_THREADS": "1"})
    mesh = LocalMesh("local-cpu", env=env, log_dir=root / "logs")
    mesh.start(only=services)
    return mesh


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
