"""Rows as plain JSON objects: from and to protobuf Structs, and values of file formats made JSON-safe."""

from __future__ import annotations

import base64
import datetime
import decimal
import math
from collections.abc import Iterable
from typing import Any

from google.protobuf import struct_pb2

from llama_mesh.runtime.struct_values import struct_dict

Row = dict[str, Any]


def json_safe(value: Any) -> Any:
    """A value a Struct can hold as JSON: bytes as base64 text, dates as ISO text, decimals as floats, NaN and
    infinities (which JSON has not) as null."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return None if isinstance(value, float) and not math.isfinite(value) else value
    if isinstance(value, decimal.Decimal):
        return json_safe(float(value))
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return json_safe(value.tolist())
    return str(value)


def to_struct(row: Row) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(row)
    return struct


def to_structs(rows: Iterable[Row]) -> list[struct_pb2.Struct]:
    return [to_struct(row) for row in rows]


def from_struct(struct: struct_pb2.Struct, field: str) -> Row:
    """A row a request carries; INVALID_ARGUMENT naming `field` for NaN or Infinity in it."""
    return struct_dict(struct, field)
