"""`llama-mesh sdg generate` without a mesh: bad dialog files are usage errors, an unreachable gateway one line."""

from __future__ import annotations

import socket
from pathlib import Path

from click.testing import CliRunner

from llama_mesh.cli.main import cli


def dead_address() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def generate(tmp_path: Path, lines: str, *extra: str) -> tuple[int, str]:
    dialogs = tmp_path / "dialogs.jsonl"
    dialogs.write_text(lines)
    result = CliRunner().invoke(
        cli, ["--gateway", dead_address(), "--timeout", "10", "sdg", "generate", "--dialogs", str(dialogs), *extra]
    )
    return result.exit_code, result.output + result.stderr


def test_bad_dialog_files_are_usage_errors(tmp_path: Path) -> None:
    assert generate(tmp_path, "")[0] == 2 and "holds no dialogs" in generate(tmp_path, "")[1]
    code, output = generate(tmp_path, '{"prompt": "hi"}\n{"text": "no messages"}\n')
    assert code == 2 and "dialog 2" in output and "'messages'" in output
    code, output = generate(tmp_path, "{not json\n")
    assert code == 2 and "line 1" in output


def test_an_unreachable_gateway_is_one_clear_line(tmp_path: Path) -> None:
    code, output = generate(tmp_path, '{"prompt": "hi"}\n', "--filter", "top_k", "--k", "1")
    assert code == 1
    assert "is not reachable" in output and "Traceback" not in output
