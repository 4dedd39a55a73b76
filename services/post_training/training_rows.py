"""Training rows: read from a registered dataset through the gateway (datasetio IterRows), checked for the columns the
format needs, and turned into the rows TRL trains on (conversational prompt/completion, messages, or DPO pairs).

Every row is checked before a job starts: a row that lacks a column (or holds one in an unusable shape) is refused with
INVALID_ARGUMENT naming the dataset, the row (its index from 0) and the column.
"""

from __future__ import annotations

import json
from typing import Any

import grpc

from llama.datasetio.v1 import datasetio_pb2
from llama.post_training.v1 import post_training_pb2 as pb
from llama_mesh.runtime.errors import InvalidArgument, NotFound, RemoteError
from llama_mesh.runtime.gateway_client import Deadline, GatewayClient
from llama_mesh.runtime.struct_values import struct_dict

PAGE = 1000
ROLES = ("system", "user", "assistant", "tool")

Row = dict[str, Any]


async def read_rows(
    gateway: GatewayClient, dataset_id: str, field: str, max_rows: int, deadline: Deadline
) -> list[Row]:
    """Every row of the dataset (at most `max_rows`, else INVALID_ARGUMENT); NOT_FOUND for an unknown dataset."""
    if not dataset_id:
        raise InvalidArgument(field, "is required: name a registered dataset")
    rows: list[Row] = []
    start: int | None = 0
    while start is not None:
        request = datasetio_pb2.IterRowsRequest(dataset_id=dataset_id, start_index=start, limit=PAGE)
        try:
            reply = await gateway.call(gateway.datasetio.IterRows, request, deadline)
        except RemoteError as error:
            if error.code == grpc.StatusCode.NOT_FOUND:
                raise NotFound(
                    f"dataset {dataset_id!r} is not registered (list them with `llama-mesh datasets list`)",
                    reason="DATASET_NOT_FOUND",
                    dataset_id=dataset_id,
                ) from error
            raise
        rows.extend(struct_dict(row, field) for row in reply.rows)
        if len(rows) > max_rows:
            raise InvalidArgument(
                field, f"dataset {dataset_id!r} has more than {max_rows} rows, the most a job trains on"
            )
        start = reply.next_start_index if reply.HasField("next_start_index") else None
    if not rows:
        raise InvalidArgument(field, f"dataset {dataset_id!r} has no rows")
    return rows


class _RowError(Exception):
    def __init__(self, column: str, problem: str) -> None:
        super().__init__(problem)
        self.column = column


def _text(value: Any) -> str | None:
    """Text of a message content: a string, or Llama Stack's content items ({"type": "text", "text": ...})."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return value["text"]
    if isinstance(value, list):
        parts = [_text(item) for item in value]
        if all(part is not None for part in parts):
            return "".join(parts)  # type: ignore[arg-type]  # checked above
    return None


def _messages(value: Any, column: str) -> list[dict[str, str]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _RowError(column, "is not a list of messages") from None
    if not isinstance(value, list) or not value:
        raise _RowError(column, "is not a non-empty list of messages")
    messages = []
    for message in value:
        role = message.get("role") if isinstance(message, dict) else None
        content = _text(message.get("content")) if isinstance(message, dict) else None
        if role not in ROLES or content is None:
            raise _RowError(column, "holds a message without a known role and text content")
        messages.append({"role": role, "content": content})
    return messages


def _turn(value: Any, column: str, role: str) -> list[dict[str, str]]:
    """A column holding either plain text (one message of `role`) or a list of messages."""
    text = _text(value) if not isinstance(value, list) else None
    if text is not None:
        return [{"role": role, "content": text}]
    return _messages(value, column)


def _need(row: Row, *columns: str) -> tuple[str, Any]:
    for column in columns:
        if column in row and row[column] not in (None, ""):
            return column, row[column]
    raise _RowError(" or ".join(columns), "is missing")


def _instruct(row: Row) -> Row:
    column, prompt = _need(row, "input_query", "chat_completion_input", "question", "messages")
    is_list = column in ("chat_completion_input", "messages")
    prompt_messages = _messages(prompt, column) if is_list else _turn(prompt, column, "user")
    column, answer = _need(row, "expected_answer", "answer")
    return {"prompt": prompt_messages, "completion": _turn(answer, column, "assistant")}


def _dialog(row: Row) -> Row:
    column, dialog = _need(row, "dialog", "messages")
    messages = _messages(dialog, column)
    if messages[-1]["role"] != "assistant":
        raise _RowError(column, "does not end with an assistant message to learn")
    return {"messages": messages}


def _preference(row: Row) -> Row:
    _, prompt = _need(row, "prompt")
    _, chosen = _need(row, "chosen")
    _, rejected = _need(row, "rejected")
    return {
        "prompt": _turn(prompt, "prompt", "user"),
        "chosen": _turn(chosen, "chosen", "assistant"),
        "rejected": _turn(rejected, "rejected", "assistant"),
    }


def training_rows(rows: list[Row], dataset_id: str, field: str, data_format: int | None) -> list[Row]:
    """The rows as TRL wants them; `data_format` None means DPO rows (prompt / chosen / rejected)."""
    convert = {pb.DATASET_FORMAT_INSTRUCT: _instruct, pb.DATASET_FORMAT_DIALOG: _dialog, None: _preference}[data_format]
    converted = []
    for index, row in enumerate(rows):
        try:
            converted.append(convert(row))
        except _RowError as error:
            raise InvalidArgument(
                field,
                f"dataset {dataset_id!r}: row {index}: column {error.column} {error}",
                reason="MISSING_COLUMN",
                dataset_id=dataset_id,
                row=str(index),
                column=error.column,
            ) from None
    return converted
