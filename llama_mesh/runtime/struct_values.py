"""A `google.protobuf.Struct` a request carries (rows, tool arguments), as the plain JSON object it stands for; and
JSON text read the same way (no NaN or Infinity).

A Struct's numbers are doubles, so a caller can send NaN or Infinity in one; JSON has no such numbers, and protobuf's
JSON conversion refuses them. Such a Struct is the caller's bad input: INVALID_ARGUMENT naming the field.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2

from llama_mesh.runtime.errors import InvalidArgument


def struct_dict(struct: struct_pb2.Struct, field: str) -> dict[str, Any]:
    """The Struct as a dict; INVALID_ARGUMENT (reason NON_FINITE_NUMBER) when it holds NaN or Infinity."""
    try:
        return json_format.MessageToDict(struct)
    except ValueError as exc:
        raise InvalidArgument(
            field, "holds NaN or Infinity, which JSON cannot; send finite numbers (or null)", reason="NON_FINITE_NUMBER"
        ) from exc


class NonFiniteNumber(ValueError):
    """NaN, Infinity or -Infinity in JSON text: Python's reader takes them, JSON has none."""

    def __init__(self, constant: str) -> None:
        super().__init__(f"{constant} is not a JSON number; write null or a finite number")
        self.constant = constant


def refuse_constant(constant: str) -> Any:
    """`json.loads(..., parse_constant=refuse_constant)`: NonFiniteNumber for NaN, Infinity and -Infinity."""
    raise NonFiniteNumber(constant)
