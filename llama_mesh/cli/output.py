"""Terminal output: rich consoles for stdout and stderr, JSON printing of protos, tables and small formatters."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from google.protobuf.message import Message
from rich.console import Console
from rich.table import Table
from rich.text import Text

from llama_mesh.client.conversions import to_dict

# soft_wrap: long lines (model output, JSON) are printed as they are, not cut to the terminal's width.
stdout = Console(soft_wrap=True, highlight=False)
stderr = Console(stderr=True, soft_wrap=True, highlight=False)


def print_json(value: Message | Sequence[Message] | Any) -> None:
    """Print a proto, a list of protos or plain data as indented JSON (proto field names, enums by name)."""
    if isinstance(value, Message):
        data: Any = to_dict(value)
    elif isinstance(value, list | tuple) and all(isinstance(item, Message) for item in value):
        data = [to_dict(item) for item in value]
    else:
        data = value
    stdout.print_json(json.dumps(data), highlight=False)


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
    """Print rows as a table; cells are shown as plain text ('' for empty values), or styled when given as Text."""
    grid = Table(*columns, title=title, title_justify="left", header_style="bold")
    for row in rows:
        grid.add_row(*(value if isinstance(value, Text) else Text(_cell(value)) for value in row))
    for column in grid.columns:
        column.overflow = "fold"  # wrap long ids and addresses instead of cutting them
    stdout.print(grid)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Message):
        return compact_json(to_dict(value))
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


def compact_json(data: Any) -> str:
    """One-line JSON ('' for empty data); whole numbers (Struct holds every number as a double) without ".0"."""
    return json.dumps(_whole_numbers(data), separators=(",", ":"), ensure_ascii=False) if data else ""


def _whole_numbers(data: Any) -> Any:
    if isinstance(data, float) and data.is_integer():
        return int(data)
    if isinstance(data, dict):
        return {key: _whole_numbers(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_whole_numbers(value) for value in data]
    return data


def dim(text: str) -> None:
    """A dim line on stderr (statistics, hints), kept out of stdout so that stdout holds only the result."""
    stderr.print(text, style="dim", markup=False)
