"""How much of a generation one reply holds. gRPC sends no message past its limit (MAX_MESSAGE_BYTES, 64 MiB, on every
server and channel of the mesh), and a unary reply with logprobs grows with every token: past the limit the caller got
a transport error (RESOURCE_EXHAUSTED "Sent message larger than max") after all the generation work.

Per generated token a reply holds a TokenLogprob (the token's text and logprob, and top_k alternatives with theirs)
and the token's text once more in the reply's text. `reply_tokens` is how many tokens surely fit when every one of
those texts is as long as the model's longest token (`TextEngine.max_token_text_bytes`): a max_tokens past it is
refused before any generation, and an unset one becomes it where the engine fits max_tokens to its context window
(the reply then ends as at max_tokens, stop reason OUT_OF_TOKENS). `ReplyLogprobs` keeps each chunk's logprobs while
they fit and ends the generation in the same way before one that would not: for engines whose tokens are longer than
they say (a remote server's).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

from google.protobuf.message import Message

from llama.common.v1 import sampling_pb2
from llama_mesh.runtime.errors import InvalidArgument, ResourceExhausted
from services.inference.generation import Fits
from services.inference.provider import ChatEngine, GenerationChunk, SamplingParams, TextEngine

# A reply's (or each batch item's) message, stop reason and usage, and the lengths that frame them: less than 100
# bytes; the rest of the reply is its logprobs and its text.
REPLY_FRAME_BYTES = 1024

Reply = TypeVar("Reply", bound=Message)


def logprob_entries(chunk: GenerationChunk) -> list[sampling_pb2.TokenLogprob]:
    return [
        sampling_pb2.TokenLogprob(
            token=item.token,
            logprob=item.logprob,
            top_logprobs=[sampling_pb2.TopLogprob(token=token, logprob=logprob) for token, logprob in item.top],
        )
        for item in chunk.logprobs
    ]


def _entry_bytes(entry: sampling_pb2.TokenLogprob) -> int:
    """The bytes of one item of a reply's repeated `logprobs` field: its tag (one byte), its length and itself."""
    size = entry.ByteSize()
    return 1 + max(1, (size.bit_length() + 6) // 7) + size


def token_reply_bytes(token_bytes: int, top_k: int) -> int:
    """The most bytes one generated token adds to a reply: its TokenLogprob with `top_k` alternatives and its text,
    every text `token_bytes` long (a logprob that is not 0 takes its 4 bytes)."""
    text = "x" * token_bytes
    top = [sampling_pb2.TopLogprob(token=text, logprob=-1.0)] * top_k
    return _entry_bytes(sampling_pb2.TokenLogprob(token=text, logprob=-1.0, top_logprobs=top)) + token_bytes


def reply_tokens(reply_bytes: int, token_bytes: int, top_k: int) -> int:
    """How many generated tokens' logprobs (`top_k` alternatives each) and text surely fit in a reply of
    `reply_bytes`, every token `token_bytes` long (at least 1: a reply too small for one holds none)."""
    return max(1, (reply_bytes - REPLY_FRAME_BYTES) // token_reply_bytes(token_bytes, top_k))


def _too_many(max_tokens: int, engine: TextEngine | ChatEngine, most: int, message: str) -> None:
    """INVALID_ARGUMENT (REPLY_TOO_LARGE) when `max_tokens`, the context window bounding it too, is past `most`."""
    if min(max_tokens, engine.context_length) > most:
        raise InvalidArgument("sampling_params.max_tokens", message, reason="REPLY_TOO_LARGE", max_tokens=most)


def check_batch_max_tokens(
    engine: TextEngine | ChatEngine, model: str, conversations: int, sampling: SamplingParams, top_k: int, share: int
) -> None:
    """INVALID_ARGUMENT unless a batch's max_tokens is given and its conversations' logprobs surely fit in `share`,
    each one's part of the reply."""
    if not sampling.max_tokens:
        raise InvalidArgument("sampling_params.max_tokens", "is required (at least 1) when a batch asks for logprobs")
    most = reply_tokens(share, engine.max_token_text_bytes, top_k)
    message = (
        f"{conversations} conversations with logprobs of {top_k} alternatives hold at most {most} tokens each of "
        f"model {model!r} in a reply (its tokens take up to {engine.max_token_text_bytes} bytes), got "
        f"{sampling.max_tokens}: send fewer conversations per call, fewer max_tokens or a smaller logprobs.top_k"
    )
    _too_many(sampling.max_tokens, engine, most, message)


class ReplyLogprobs:
    """The logprobs of one reply of at most `reply_bytes`, of `top_k` alternatives a token (0: none asked for)."""

    def __init__(self, reply_bytes: int, top_k: int) -> None:
        self.entries: list[sampling_pb2.TokenLogprob] = []
        self._reply_bytes = reply_bytes
        self._top_k = top_k
        self._left = reply_bytes - REPLY_FRAME_BYTES

    def fitted(self, engine: TextEngine | ChatEngine, model: str, sampling: SamplingParams) -> SamplingParams:
        """`sampling` for this reply: a max_tokens that can pass what it holds is INVALID_ARGUMENT; an unset one
        becomes the most that surely fits where the engine fits max_tokens to the prompt's room in its context (a
        remote server refuses a max_tokens past that room, which only it knows: there `fits` alone ends the
        generation)."""
        if not self._top_k:
            return sampling
        most = reply_tokens(self._reply_bytes, engine.max_token_text_bytes, self._top_k)
        message = (
            f"with logprobs of {self._top_k} alternatives a reply holds at most {most} tokens of model {model!r} (a "
            f"reply is at most {self._reply_bytes} bytes; its tokens take up to {engine.max_token_text_bytes}): set "
            f"max_tokens to at most {most}, ask for fewer alternatives, or stream the reply"
        )
        _too_many(sampling.max_tokens, engine, most, message)
        if not sampling.max_tokens and isinstance(engine, TextEngine) and most < engine.context_length:
            return replace(sampling, max_tokens=most)
        return sampling

    @property
    def fits(self) -> Fits | None:
        """What tells generation whether a chunk still fits; None without logprobs."""
        return self._fits if self._top_k else None

    def _fits(self, chunk: GenerationChunk) -> bool:
        """Whether the chunk's logprobs and text still fit; those of a chunk that does are kept."""
        entries = logprob_entries(chunk)
        size = sum(_entry_bytes(entry) for entry in entries) + len(chunk.text.encode())
        if size > self._left:
            return False
        self._left -= size
        self.entries.extend(entries)
        return True


def checked_reply(reply: Reply, reply_bytes: int, advice: str) -> Reply:
    """`reply`, or RESOURCE_EXHAUSTED (REPLY_TOO_LARGE) when it is past `reply_bytes`: only tool calls take a reply
    there, their arguments being the model's JSON written again (an escaped non-ASCII character takes up to 3 times
    its bytes), which the bytes counted for the model's text do not bound."""
    size = reply.ByteSize()
    if size > reply_bytes:
        raise ResourceExhausted(
            f"the reply is {size} bytes, more than the {reply_bytes} a reply may hold: {advice}",
            reason="REPLY_TOO_LARGE",
        )
    return reply
