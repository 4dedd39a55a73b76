"""The input file of a batch (OpenAI's Batch API): JSONL, one request per line,
`{"custom_id": "...", "method": "POST", "url": "<the batch's endpoint>", "body": {...}}`.

The file is checked whole when the batch is created: every line a JSON object of that shape of at most
`max_line_bytes` (the edge's max_request_bytes: a line is a request body), custom ids unique, at most `max_requests`
lines (blank lines are skipped). Any problem fails the batch at once, its `errors` naming the lines (at most
MAX_LISTED_ERRORS of them, each quoting at most QUOTED_CHARACTERS of what a line held). A body is checked against its
endpoint only when its request runs; a bad one fails that request alone, in the batch's error file.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from typing import Any

from services.openai_edge.errors import OpenAIError
from services.openai_edge.json_body import loads

MAX_CUSTOM_ID = 512
MAX_LISTED_ERRORS = 100
FIELDS = ("custom_id", "method", "url", "body")
QUOTED_CHARACTERS = 64
_QUOTE = reprlib.Repr()  # how a problem quotes a value of a line: at most about QUOTED_CHARACTERS of it
_QUOTE.maxlevel, _QUOTE.maxstring, _QUOTE.maxother = 2, QUOTED_CHARACTERS, QUOTED_CHARACTERS


@dataclass(frozen=True)
class BatchLine:
    number: int  # its line in the file, from 1
    custom_id: str
    model: str | None  # the body's `model`, when it is a string
    raw: bytes  # the line as it came; its body is read again when the request runs


def line_body(line: BatchLine) -> Any:
    """The request body of a line already checked by `read_lines`."""
    return loads(line.raw)["body"]


def _problem(number: int | None, code: str, message: str, param: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "param": param, "line": number}


def _line(number: int, raw: bytes, endpoint: str) -> BatchLine | dict[str, Any]:
    """The request of a line, or the problem with it."""
    try:
        value = loads(raw)
    except OpenAIError as exc:
        return _problem(number, "invalid_json", exc.message.replace("the request body", "the line"))
    if not isinstance(value, dict):
        return _problem(number, "invalid_request", "a line must be a JSON object")
    unknown = sorted(set(value) - set(FIELDS))
    if unknown:
        field = _QUOTE.repr(unknown[0])
        return _problem(number, "invalid_request", f"unrecognized field {field}", field.strip("'\""))
    custom_id, method, url, body = (value.get(name) for name in FIELDS)
    if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= MAX_CUSTOM_ID:
        message = f"custom_id must be a string of 1 to {MAX_CUSTOM_ID} characters"
        return _problem(number, "invalid_custom_id", message, "custom_id")
    if method != "POST":
        return _problem(number, "invalid_method", f"method must be 'POST', got {_QUOTE.repr(method)}", "method")
    if url != endpoint:
        return _problem(
            number, "mismatched_url", f"url must be the batch's endpoint {endpoint!r}, got {_QUOTE.repr(url)}", "url"
        )
    if not isinstance(body, dict):
        return _problem(number, "invalid_request", "body must be a JSON object", "body")
    if body.get("stream"):
        return _problem(number, "invalid_request", "body.stream: streaming is not available in a batch", "body")
    model = body.get("model")
    return BatchLine(number, custom_id, model if isinstance(model, str) else None, raw)


def read_lines(
    data: bytes, endpoint: str, max_requests: int, max_line_bytes: int
) -> tuple[list[BatchLine], list[dict[str, Any]]]:
    """The requests of an input file, and the problems that keep it from running (OpenAI's BatchError objects)."""
    lines: list[BatchLine] = []
    problems: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        if len(lines) + len(problems) >= max_requests:
            message = f"a batch may hold at most {max_requests} requests; split the file"
            return lines, [*problems, _problem(number, "too_many_requests", message)][:MAX_LISTED_ERRORS]
        if len(raw) > max_line_bytes:
            message = f"a line may be at most {max_line_bytes} bytes, as a request body may (max_request_bytes)"
            line: BatchLine | dict[str, Any] = _problem(number, "line_too_large", message)
        else:
            line = _line(number, raw, endpoint)
        if isinstance(line, BatchLine) and line.custom_id in seen:
            message = f"custom_id {line.custom_id!r} is used twice"
            line = _problem(number, "duplicate_custom_id", message, "custom_id")
        if not isinstance(line, BatchLine):
            problems.append(line)
            if len(problems) == MAX_LISTED_ERRORS:
                return lines, problems
            continue
        seen.add(line.custom_id)
        lines.append(line)
    if not lines and not problems:
        problems.append(_problem(None, "empty_file", "the input file holds no requests"))
    return lines, problems
