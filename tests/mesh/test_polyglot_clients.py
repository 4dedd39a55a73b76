"""Clients in other languages, generated from protos/, against a real gateway and inference service (llama.cpp on
SmolLM2-135M): Node.js (clients/node) and Go (clients/go) each list the models and stream a chat. Also the `buf curl`
examples of docs/grpc-from-any-language.md, which find the methods through the gateway's server reflection."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from llama_mesh.launcher import LocalMesh, isolated_env

ROOT = Path(__file__).resolve().parents[2]
MODEL = "smollm2-135m-instruct"
BUF = Path(sys.executable).parent / "buf"


@pytest.fixture(scope="module")
def gateway_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("polyglot")
    mesh = LocalMesh("local-cpu", env=isolated_env(root / "data"), log_dir=root / "logs")
    mesh.start(only={"gateway", "inference"})
    yield mesh.gateway_address
    mesh.stop()


def _run(command: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_node_client_lists_models_and_streams_a_chat(gateway_address: str) -> None:
    node = shutil.which("node")
    assert node, "Node.js is needed (Debian's nodejs; `make setup` installs the client's npm packages)"
    assert (ROOT / "clients/node/node_modules/@grpc/grpc-js").exists(), "run `make setup` (npm ci in clients/node)"
    listed = _run([node, "clients/node/client.js", "--address", gateway_address, "models"])
    assert listed.returncode == 0, listed.stderr
    assert MODEL in listed.stdout.split()
    chat = _run(
        [
            node,
            "clients/node/client.js",
            "--address",
            gateway_address,
            "chat",
            "--model",
            MODEL,
            "--max-tokens",
            "12",
            "Say hello.",
        ]
    )
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.strip(), "the streamed reply has text"


def test_node_client_reports_a_failed_call(gateway_address: str) -> None:
    node = shutil.which("node")
    assert node
    chat = _run(
        [node, "clients/node/client.js", "--address", gateway_address, "chat", "--model", "no-such-model", "hello"]
    )
    assert chat.returncode == 1 and chat.stderr.startswith("error: NOT_FOUND:"), chat.stderr


@pytest.fixture(scope="module")
def go_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """clients/go built from protos/ with Debian's Go packages (clients/go/build.sh)."""
    assert shutil.which("go") and shutil.which("protoc-gen-go-grpc"), "run `make setup` (Debian's Go packages)"
    out = tmp_path_factory.mktemp("go")
    built = _run(["bash", "clients/go/build.sh", str(out)], timeout=900)
    assert built.returncode == 0, built.stdout + built.stderr
    return out / "bin" / "llama-mesh-go"


def test_go_client_lists_models_and_streams_a_chat(gateway_address: str, go_client: Path) -> None:
    listed = _run([str(go_client), "-address", gateway_address, "models"])
    assert listed.returncode == 0, listed.stderr
    assert MODEL in listed.stdout.split()
    chat = _run(
        [str(go_client), "-address", gateway_address, "-model", MODEL, "-max-tokens", "12", "chat", "Say hello."]
    )
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.strip(), "the streamed reply has text"
    unknown = _run([str(go_client), "-address", gateway_address, "-model", "no-such-model", "chat", "hello"])
    assert unknown.returncode == 1 and unknown.stderr.startswith("error: NOT_FOUND:"), unknown.stderr


def _doc_commands() -> list[str]:
    """The `buf curl` lines of the doc, in order."""
    text = (ROOT / "docs/grpc-from-any-language.md").read_text()
    return [line.strip() for line in text.splitlines() if line.strip().startswith("buf curl ")]


def test_buf_curl_examples_of_the_docs_run(gateway_address: str) -> None:
    commands = _doc_commands()
    assert len(commands) >= 3
    outputs = []
    for line in commands:
        command = line.replace("buf curl", f"{BUF} curl", 1).replace("127.0.0.1:50051", gateway_address)
        result = subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{line}\n{result.stderr}"
        outputs.append(result.stdout)
    services, models, chat = outputs[0], json.loads(outputs[1]), outputs[2]
    assert "llama.inference.v1.InferenceService" in services
    assert MODEL in [model["identifier"] for model in models["models"]]
    events, position, decoder = [], 0, json.JSONDecoder()
    while chat[position:].strip():  # one JSON document per streamed message
        event, end = decoder.raw_decode(chat[position:].lstrip())
        position = len(chat) - len(chat[position:].lstrip()) + end
        events.append(event)
    assert any("chunk" in event for event in events) and "complete" in events[-1]
