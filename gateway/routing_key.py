"""Read one top-level string field from serialized protobuf bytes, without parsing the rest of the message."""

from __future__ import annotations

_VARINT, _I64, _LEN, _SGROUP, _EGROUP, _I32 = 0, 1, 2, 3, 4, 5


class MalformedMessage(ValueError):
    pass


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise MalformedMessage("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def read_string_field(data: bytes, field_number: int) -> str:
    """The last value of string field `field_number` (protobuf's last-one-wins rule), or "" if absent."""
    value = b""
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == _VARINT:
            _, pos = _read_varint(data, pos)
        elif wire_type == _I64:
            pos += 8
        elif wire_type == _I32:
            pos += 4
        elif wire_type == _LEN:
            length, pos = _read_varint(data, pos)
            if pos + length > len(data):
                raise MalformedMessage("truncated length-delimited field")
            if number == field_number:
                value = data[pos : pos + length]
            pos += length
        else:
            raise MalformedMessage(f"unsupported wire type {wire_type}")
    if pos != len(data):
        raise MalformedMessage("truncated fixed-width field")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedMessage("routing field is not valid UTF-8") from exc
