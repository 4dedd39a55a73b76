"""A Struct a caller sent, as the JSON object it stands for: numbers JSON cannot hold (NaN, infinity) are the caller's
INVALID_ARGUMENT, where protobuf's json_format raises ValueError (which would be INTERNAL)."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2

from llama_mesh.runtime.errors import InvalidArgument


def struct_json(struct: struct_pb2.Struct, field: str) -> dict[str, Any]:
    """`struct` as a dict; INVALID_ARGUMENT naming `field` when it holds NaN or an infinity at any depth."""
    try:
        return json_format.MessageToDict(struct)
    except ValueError as exc:
        raise InvalidArgument(field, "numbers must be finite: JSON has no NaN or Infinity") from exc
