"""`llama-mesh chat`: one streamed reply, or an interactive conversation that keeps its history."""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import click

from llama.common.v1 import messages_pb2
from llama_mesh.cli.failures import report
from llama_mesh.cli.options import generation_options, generation_params, text_from_stdin
from llama_mesh.cli.output import dim, print_json, stderr
from llama_mesh.cli.state import get_state, json_option
from llama_mesh.cli.stream_stats import StreamTimer
from llama_mesh.client import GatewayUnreachableError, LlamaMeshClient, LlamaMeshError
from llama_mesh.client.errors import from_stream_error

_EXIT_WORDS = frozenset({"exit", "quit", "/exit", "/quit", "/bye"})


def stream_reply(
    client: LlamaMeshClient, model_id: str, messages: list[Any], params: dict[str, Any]
) -> messages_pb2.Message | None:
    """Print the reply's text as it arrives, then the stats line; the whole assistant message (None if none came)."""
    timer = StreamTimer()
    ended_with_newline = True
    events = client.inference.stream_chat_completion(model_id, messages, **params)
    with contextlib.closing(events):
        for event in events:
            kind = event.WhichOneof("event")
            if kind == "chunk" and event.chunk.text_delta:
                timer.text_arrived()
                click.echo(event.chunk.text_delta, nl=False)
                ended_with_newline = event.chunk.text_delta.endswith("\n")
            elif kind == "complete":
                if not ended_with_newline:
                    click.echo()
                message = event.complete.completion_message
                for call in message.tool_calls:
                    dim(f"tool call {call.tool_name}({call.arguments})")
                dim(timer.summary(message.stop_reason, event.complete.usage))
                return message
            elif kind == "error":
                if not ended_with_newline:
                    click.echo()
                raise from_stream_error(event.error)
    if not ended_with_newline:
        click.echo()
    return None


def _read_line() -> str | None:
    """One line typed by the user; None at end of input."""
    try:
        return input(">>> ")
    except EOFError:
        click.echo()
        return None


def interactive(client: LlamaMeshClient, model_id: str, system: str | None, params: dict[str, Any]) -> None:
    """Chat until Ctrl-D or "exit"; Ctrl-C stops the reply being generated (or clears the line)."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401 - line editing and history for input()
    history: list[Any] = [{"role": "system", "content": system}] if system else []
    dim(f"chatting with {model_id} at {client.address}; Ctrl-D or 'exit' to leave")
    while True:
        try:
            line = _read_line()
        except KeyboardInterrupt:
            click.echo()
            continue
        if line is None or line.strip().lower() in _EXIT_WORDS:
            return
        if not line.strip():
            continue
        history.append({"role": "user", "content": line})
        try:
            reply = stream_reply(client, model_id, history, params)
        except KeyboardInterrupt:
            click.echo()
            dim("(interrupted)")
            reply = None
        except GatewayUnreachableError:
            raise
        except LlamaMeshError as error:
            report(error)
            reply = None
        if reply is None:
            history.pop()  # the question without an answer is not part of the conversation
        else:
            history.append(reply)


@click.command(
    help="Chat with a model: stream the reply to PROMPT, or talk interactively when no PROMPT is given "
    "(the prompt may also be piped on stdin)."
)
@click.argument("prompt", required=False)
@click.option("--system", help="A system prompt.")
@generation_options
@json_option
def chat(prompt: str | None, system: str | None, model_id: str, **options: Any) -> None:
    state = get_state()
    params = generation_params(options)
    client = state.client()
    if prompt is None and sys.stdin is not None and sys.stdin.isatty() and not state.json:
        interactive(client, model_id, system, params)
        return
    if prompt is None:
        prompt = text_from_stdin("prompt")
    messages: list[Any] = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": prompt})
    if state.json:
        print_json(client.inference.chat_completion(model_id, messages, **params))
        return
    if stream_reply(client, model_id, messages, params) is None:
        stderr.print("[bold red]error:[/] the stream ended without a final message", highlight=False)
        raise click.exceptions.Exit(1)
