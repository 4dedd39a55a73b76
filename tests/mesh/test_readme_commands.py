"""The README's CLI commands run against a real mesh and do what it says."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from llama_mesh.launcher import LocalMesh
from tests.mesh.helpers import CHAT_MODEL, run_cli

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_cli_commands() -> list[list[str]]:
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.DOTALL)
    lines = [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("llama-mesh ")]


def test_the_readme_cli_commands_run(local_mesh: LocalMesh) -> None:
    commands = readme_cli_commands()
    assert [command[0] for command in commands] == ["models", "chat"]
    listed = run_cli(local_mesh, *commands[0], columns=200)
    assert listed.returncode == 0, listed.stderr
    assert CHAT_MODEL in listed.stdout
    chatted = run_cli(local_mesh, *commands[1])
    assert chatted.returncode == 0, chatted.stderr
    assert chatted.stdout.strip()
