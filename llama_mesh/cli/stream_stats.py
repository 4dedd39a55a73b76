"""Timing of a generation stream and the one dim summary line printed after it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from llama.common.v1 import messages_pb2, sampling_pb2
from llama_mesh.client.conversions import enum_short_name


@dataclass
class StreamTimer:
    """When the request went out and when the first text came back."""

    started: float = field(default_factory=time.perf_counter)
    first_text: float | None = None

    def text_arrived(self) -> None:
        if self.first_text is None:
            self.first_text = time.perf_counter()

    def summary(self, stop_reason: int, usage: sampling_pb2.Usage) -> str:
        """e.g. "end_of_turn · 12 prompt + 30 completion tokens · 45.1 tokens/s · first token 0.08s · 0.75s"."""
        now = time.perf_counter()
        stop = enum_short_name(messages_pb2.StopReason, stop_reason, "STOP_REASON_") or "unspecified"
        parts = [f"stop: {stop}", f"{usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens"]
        generating = now - (self.first_text if self.first_text is not None else self.started)
        if usage.completion_tokens and generating > 0:
            parts.append(f"{usage.completion_tokens / generating:.1f} tokens/s")
        if self.first_text is not None:
            parts.append(f"first token {self.first_text - self.started:.2f}s")
        parts.append(f"{now - self.started:.2f}s")
        return " · ".join(parts)
