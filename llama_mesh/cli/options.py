"""Options shared by the generation commands (sampling, structured output) and reading their values."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

_SAMPLING_OPTIONS = (
    click.option("-m", "--model", "model_id", required=True, help="A registered model id."),
    click.option("--max-tokens", type=click.IntRange(min=0), help="Stop after this many tokens."),
    click.option("--temperature", type=click.FloatRange(min=0), help="0: greedy (the default)."),
    click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), help="Nucleus sampling."),
    click.option("--top-k", type=click.IntRange(min=1), help="Top-k sampling."),
    click.option("--seed", type=int, help="Sampling seed."),
    click.option("--stop", multiple=True, help="Stop before this text (repeatable)."),
    click.option("--json-schema", metavar="FILE_OR_JSON", help="Constrain the output to this JSON schema."),
    click.option("--grammar", metavar="FILE_OR_TEXT", help="Constrain the output to this GBNF grammar."),
)
SAMPLING_KEYS = ("max_tokens", "temperature", "top_p", "top_k", "seed")


def generation_options(command: F) -> F:
    """-m/--model, the sampling options and --json-schema / --grammar."""
    for option in reversed(_SAMPLING_OPTIONS):
        command = option(command)
    return command


def _text_or_file(value: str) -> str:
    path = Path(value)
    try:
        if path.is_file():
            return path.read_text()
    except OSError:  # e.g. a name too long to be a path: it is the text itself
        pass
    return value


def response_format(json_schema: str | None, grammar: str | None) -> dict[str, Any] | None:
    """The response_format parameter from --json-schema (a file or JSON text) or --grammar (a file or text)."""
    if json_schema and grammar:
        raise click.UsageError("give --json-schema or --grammar, not both")
    if grammar:
        return {"grammar": _text_or_file(grammar)}
    if not json_schema:
        return None
    try:
        schema = json.loads(_text_or_file(json_schema))
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"neither a file nor valid JSON ({error})", param_hint="--json-schema") from None
    if not isinstance(schema, dict):
        raise click.BadParameter("a JSON schema must be an object", param_hint="--json-schema")
    return {"json_schema": schema}


def generation_params(options: dict[str, Any]) -> dict[str, Any]:
    """Client keyword parameters from the parsed generation options (unset ones left out)."""
    params = {key: options[key] for key in SAMPLING_KEYS if options.get(key) is not None}
    if options.get("stop"):
        params["stop"] = list(options["stop"])
    fmt = response_format(options.get("json_schema"), options.get("grammar"))
    if fmt is not None:
        params["response_format"] = fmt
    return params


def text_from_stdin(what: str) -> str:
    """The text piped in when no argument gave it; a usage error when there is none."""
    text = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    if not text.strip():
        raise click.UsageError(f"give the {what} as an argument or on stdin")
    return text
