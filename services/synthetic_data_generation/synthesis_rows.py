"""What a synthesis returns: the dialog rows of kept candidates, the preference pairs, every candidate's record, and
the statistics; and the dialog views the scorers read (message dicts, the last user message, a transcript)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from typing import Any

from google.protobuf import struct_pb2

from llama.common.v1 import messages_pb2
from llama.synthetic_data_generation.v1 import synthetic_data_generation_pb2 as pb
from llama_mesh.client.conversions import content_text
from services.synthetic_data_generation.candidates import Candidate

Row = dict[str, Any]


def role_name(role: int) -> str:
    return messages_pb2.Role.Name(role).removeprefix("ROLE_").lower()


def message_dicts(dialog: pb.Dialog) -> list[Row]:
    """The dialog as {"role", "content"} objects, the shape dataset rows carry messages in."""
    return [{"role": role_name(message.role), "content": content_text(message.content)} for message in dialog.messages]


def last_user_text(dialog: pb.Dialog) -> str:
    users = [message for message in dialog.messages if message.role == messages_pb2.ROLE_USER]
    return content_text(users[-1].content) if users else ""


def transcript(dialog: pb.Dialog) -> str:
    return "\n".join(f"{item['role']}: {item['content']}" for item in message_dicts(dialog))


def scoring_row(dialog: pb.Dialog, candidate: Candidate) -> Row:
    """The row a scoring function grades one candidate by."""
    row: Row = {
        "input_query": last_user_text(dialog),
        "generated_answer": candidate.text,
        "chat_completion_input": json.dumps(message_dicts(dialog)),
    }
    if dialog.expected_answer:
        row["expected_answer"] = dialog.expected_answer
    return row


def struct(row: Row) -> struct_pb2.Struct:
    value = struct_pb2.Struct()
    value.update(row)
    return value


def dialog_row(dialog: pb.Dialog, candidate: Candidate) -> Row:
    conversation = [*message_dicts(dialog), {"role": "assistant", "content": candidate.text}]
    return {
        "dialog_index": candidate.dialog_index,
        "candidate_index": candidate.candidate_index,
        "seed": candidate.seed,
        "dialog": conversation,
        "messages": conversation,
        "response": candidate.text,
        "score": candidate.score,
    }


def preference_pair(dialog: pb.Dialog, candidates: Sequence[Candidate]) -> Row | None:
    """Best kept candidate against the worst candidate of the dialog, when the first scored strictly higher."""
    kept = [c for c in candidates if c.kept and c.score is not None]
    scored = [c for c in candidates if c.score is not None]
    if not kept:
        return None
    chosen = max(kept, key=lambda c: (c.score, -c.candidate_index))
    rejected = min(scored, key=lambda c: (c.score, -c.candidate_index))
    if chosen.score <= rejected.score:  # type: ignore[operator]  # both scored
        return None
    return {
        "dialog_index": chosen.dialog_index,
        "prompt": message_dicts(dialog),
        "chosen": chosen.text,
        "rejected": rejected.text,
        "chosen_score": chosen.score,
        "rejected_score": rejected.score,
        "chosen_candidate_index": chosen.candidate_index,
        "rejected_candidate_index": rejected.candidate_index,
    }


def candidate_record(candidate: Candidate) -> Row:
    return {
        "dialog_index": candidate.dialog_index,
        "candidate_index": candidate.candidate_index,
        "seed": candidate.seed,
        "response": candidate.text,
        "score": candidate.score,
        "kept": candidate.kept,
        "stop_reason": candidate.stop_reason,
        "completion_tokens": candidate.completion_tokens,
    }


def distribution(scores: Sequence[float]) -> Row:
    if not scores:
        return {"count": 0}
    return {
        "count": len(scores),
        "min": min(scores),
        "max": max(scores),
        "mean": statistics.fmean(scores),
        "median": statistics.median(scores),
        "stdev": statistics.pstdev(scores),
    }
