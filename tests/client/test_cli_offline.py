"""The CLI without a mesh: every command's --help, and clean failures against an address where nothing listens."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from llama_mesh.cli.main import cli


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from _command_paths(command, (*prefix, name))


ALL_COMMANDS = [(), *_command_paths(cli)]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def dead_address() -> str:
    """host:port of a port that was free a moment ago (nothing listens there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"127.0.0.1:{port}"


def test_the_tree_has_the_promised_commands() -> None:
    paths = {" ".join(path) for path in ALL_COMMANDS}
    for expected in (
        "models list",
        "models get",
        "models register",
        "models unregister",
        "chat",
        "completion",
        "embeddings",
        "inspect providers",
        "inspect routes",
        "inspect health",
        "inspect version",
        "vector-dbs list",
        "shields register",
    ):
        assert expected in paths


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda path: " ".join(path) or "llama-mesh")
def test_help_of_every_command(runner: CliRunner, path: tuple[str, ...]) -> None:
    result = runner.invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["models", "list"],
        ["--json", "models", "get", "smollm2-135m-instruct"],
        ["models", "register", "x", "--provider-id", "p", "--metadata", '{"a": 1}'],
        ["chat", "-m", "smollm2-135m-instruct", "hello", "--max-tokens", "4"],
        ["completion", "-m", "smollm2-135m-instruct", "Once upon a time"],
        ["embeddings", "-m", "all-MiniLM-L6-v2", "one", "two", "--json"],
        ["inspect", "health"],
        ["inspect", "version"],
    ],
)
def test_unreachable_gateway_is_one_clear_line(runner: CliRunner, dead_address: str, args: list[str]) -> None:
    result = runner.invoke(cli, ["--gateway", dead_address, "--timeout", "10", *args])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # exited on purpose, not an uncaught exception
    assert f"error: UNAVAILABLE: the gateway at {dead_address} is not reachable" in result.stderr
    assert "make up" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_gateway_address_from_the_environment(runner: CliRunner, dead_address: str) -> None:
    result = runner.invoke(cli, ["inspect", "version"], env={"LLAMA_MESH_GATEWAY": dead_address})
    assert result.exit_code == 1
    assert dead_address in result.stderr


def test_gateway_address_falls_back_to_the_servers_variable(runner: CliRunner, dead_address: str) -> None:
    env = {"LLAMA_MESH_GATEWAY": None, "LLAMA_MESH_GATEWAY_ADDRESS": dead_address}
    result = runner.invoke(cli, ["models", "list"], env=env)  # type: ignore[arg-type]
    assert result.exit_code == 1
    assert dead_address in result.stderr


def test_chat_without_a_prompt_and_no_tty_is_a_usage_error(runner: CliRunner, dead_address: str) -> None:
    result = runner.invoke(cli, ["--gateway", dead_address, "chat", "-m", "m"], input="")
    assert result.exit_code == 2
    assert "prompt" in result.output


def test_bad_arguments_fail_before_calling(runner: CliRunner, dead_address: str) -> None:
    bad_json = runner.invoke(cli, ["--gateway", dead_address, "chat", "-m", "m", "hi", "--json-schema", "{nope"])
    assert bad_json.exit_code == 2 and "--json-schema" in bad_json.output
    bad_metadata = runner.invoke(cli, ["--gateway", dead_address, "models", "register", "x", "--metadata", "[1]"])
    assert bad_metadata.exit_code == 2 and "JSON object" in bad_metadata.output
    contradictory = runner.invoke(
        cli, ["--gateway", dead_address, "chat", "-m", "m", "hi", "--top-k", "3", "--top-p", "0.5"]
    )
    assert contradictory.exit_code == 1
    assert "error: top_k and top_p" in contradictory.stderr and "Traceback" not in contradictory.output
    unknown_field = runner.invoke(
        cli, ["--gateway", dead_address, "vector-dbs", "register", "docs", "--fields", '{"colour": "red"}']
    )
    assert unknown_field.exit_code == 2 and "colour" in unknown_field.output
