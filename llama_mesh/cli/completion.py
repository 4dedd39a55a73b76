"""`llama-mesh completion`: continue raw text (no chat template), streamed."""

from __future__ import annotations

import contextlib
from typing import Any

import click

from llama_mesh.cli.options import generation_options, generation_params, text_from_stdin
from llama_mesh.cli.output import dim, print_json
from llama_mesh.cli.state import get_state, json_option
from llama_mesh.cli.stream_stats import StreamTimer
from llama_mesh.client.errors import from_stream_error


@click.command(help="Continue TEXT with a model (raw completion, no chat template); TEXT may be piped on stdin.")
@click.argument("text", required=False)
@generation_options
@json_option
def completion(text: str | None, model_id: str, **options: Any) -> None:
    state = get_state()
    params = generation_params(options)
    content = text if text is not None else text_from_stdin("text")
    inference = state.client().inference
    if state.json:
        print_json(inference.completion(model_id, content, **params))
        return
    timer = StreamTimer()
    events = inference.stream_completion(model_id, content, **params)
    with contextlib.closing(events):
        for event in events:
            kind = event.WhichOneof("event")
            if kind == "chunk" and event.chunk.text_delta:
                timer.text_arrived()
                click.echo(event.chunk.text_delta, nl=False)
            elif kind == "complete":
                click.echo()
                dim(timer.summary(event.complete.stop_reason, event.complete.usage))
            elif kind == "error":
                click.echo()
                raise from_stream_error(event.error)
