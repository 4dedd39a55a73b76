"""The JSON request bodies the edge reads, held to what the mesh's protos can carry: at most MAX_DEPTH levels of
nesting (protobuf's Struct, which tool parameters and JSON schemas become, refuses deeper values), numbers a 64-bit
float holds (no NaN, Infinity or 1e999), and text that is Unicode (no lone UTF-16 surrogate such as "\\ud800").
Anything else is a 400 naming the parameter, before a route sees the body.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from services.openai_edge.errors import OpenAIError

MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")
# Digits of the largest integer a float holds (about 1.8e308); longer ones overflow where they become floats.
_MAX_INT_DIGITS = len(str(int(sys.float_info.max)))


class _NotANumber(str):
    """A number of the body no double holds (1e999, NaN, Infinity), kept as its text until its place is known."""


def _number(text: str) -> float | _NotANumber:
    value = float(text)
    return _NotANumber(text) if value in (float("inf"), float("-inf")) else value


def _integer(text: str) -> int | _NotANumber:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS or abs(value := int(text)) > sys.float_info.max:
        return _NotANumber(text)
    return value


def _refusal(path: tuple[str | int, ...], message: str) -> OpenAIError:
    param = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".") or None
    return OpenAIError(400, f"{param or 'the request body'}: {message}", param=param, code="invalid_value")


def _checked(value: Any) -> None:
    """Nesting and text of a parsed body, without recursion (the body may be deep)."""
    pending: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while pending:
        item, path = pending.pop()
        if isinstance(item, _NotANumber):
            shown = item if len(item) <= 32 else f"{item[:32]}..."
            raise _refusal(path, f"{shown} is not a number a 64-bit float holds (at most about 1.8e308, no NaN)")
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise _refusal(path, "holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode text")
            continue
        if not isinstance(item, dict | list):
            continue
        if len(path) >= MAX_DEPTH:
            raise _refusal(path, f"JSON nested more than {MAX_DEPTH} levels deep is not accepted")
        for key, child in item.items() if isinstance(item, dict) else enumerate(item):
            if isinstance(key, str) and _SURROGATE.search(key):
                raise _refusal(path, "a key holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode text")
            pending.append((child, (*path, key)))


def loads(body: bytes) -> Any:
    """A request body as JSON, or a 400 saying what is wrong with it."""
    try:
        value = json.loads(body, parse_float=_number, parse_int=_integer, parse_constant=_NotANumber)
    except json.JSONDecodeError as exc:
        raise OpenAIError(400, f"the request body is not valid JSON: {exc}", code="invalid_json") from exc
    except RecursionError as exc:
        message = f"the request body is nested more than {MAX_DEPTH} levels deep"
        raise OpenAIError(400, message, code="invalid_json") from exc
    except UnicodeDecodeError as exc:
        raise OpenAIError(400, "the request body is not UTF-8 text", code="invalid_json") from exc
    _checked(value)
    return value


class _JSONBodyRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


class JSONBodyRoute(APIRoute):
    """A route whose JSON body is read with `loads` (every router of the edge uses it). FastAPI answers any failure
    to read a body, a form's too, with a bare 400 ("There was an error parsing the body"); the edge's own answer to
    it (the 400 of `loads`, BodyLimit's 413) is given instead."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_edge_body_errors(request: Request) -> Response:
            try:
                return await handler(_JSONBodyRequest(request.scope, request.receive))
            except HTTPException as exc:
                if isinstance(exc.__cause__, OpenAIError):
                    raise exc.__cause__ from None
                raise

        return with_edge_body_errors
