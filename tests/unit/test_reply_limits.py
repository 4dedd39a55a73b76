"""The bound on a reply's logprobs (services/inference/reply_limits.py) against protobuf's own encoding: the tokens it
lets through fit in the reply however long their texts are, and little room is left unused."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from llama.common.v1 import content_pb2, messages_pb2, sampling_pb2
from llama.inference.v1 import inference_pb2 as pb
from llama_mesh.runtime.channels import MAX_MESSAGE_BYTES
from llama_mesh.runtime.errors import InvalidArgument
from services.inference.provider import GenerationChunk, SamplingParams, TokenLogprob
from services.inference.reply_limits import REPLY_FRAME_BYTES, ReplyLogprobs, reply_tokens, token_reply_bytes
from services.openai_edge.errors import from_mesh_error
from services.openai_edge.routes.chat import CHAT_FIELDS
from services.openai_edge.routes.completions import COMPLETION_FIELDS

INT32_MAX = 2**31 - 1


def _token(token_bytes: int) -> str:
    """A token text of `token_bytes` UTF-8 bytes (two-byte characters: bytes, not characters, count)."""
    return "é" * (token_bytes // 2) + "x" * (token_bytes % 2)


def _reply(tokens: int, token_bytes: int, top_k: int) -> pb.ChatCompletionResponse:
    """A reply of `tokens` tokens, each and each alternative `token_bytes` long, and the largest usage."""
    token = _token(token_bytes)
    top = [sampling_pb2.TopLogprob(token=token, logprob=-1.0)] * top_k
    entry = sampling_pb2.TokenLogprob(token=token, logprob=-1.0, top_logprobs=top)
    message = messages_pb2.Message(
        role=messages_pb2.ROLE_ASSISTANT,
        content=content_pb2.Content(text=token * tokens),
        stop_reason=messages_pb2.STOP_REASON_OUT_OF_TOKENS,
    )
    usage = sampling_pb2.Usage(prompt_tokens=INT32_MAX, completion_tokens=tokens, total_tokens=INT32_MAX)
    return pb.ChatCompletionResponse(completion_message=message, logprobs=[entry] * tokens, usage=usage)


@pytest.mark.parametrize(
    ("token_bytes", "top_k", "reply_bytes"),
    [
        (1, 1, 64 * 1024),
        (32, 20, 64 * 1024),  # SmolLM2's longest
        (127, 20, 1024 * 1024),  # lengths of one byte ...
        (128, 20, 1024 * 1024),  # ... and of two
        (300, 5, 1024 * 1024),
        (16 * 1024, 20, MAX_MESSAGE_BYTES),
    ],
)
def test_the_tokens_a_reply_may_hold_fit_in_it(token_bytes: int, top_k: int, reply_bytes: int) -> None:
    most = reply_tokens(reply_bytes, token_bytes, top_k)
    size = _reply(most, token_bytes, top_k).ByteSize()
    assert size <= reply_bytes
    assert size + token_reply_bytes(token_bytes, top_k) > reply_bytes - REPLY_FRAME_BYTES  # one more might not


def test_a_batchs_conversations_fit_in_its_reply_together() -> None:
    # 64-byte tokens with 20 alternatives: 1598 bytes a token, 76 an entry. At the old cap of 64 bytes an entry
    # (256 conversations x 195 tokens x 21 entries) the reply was 80 MB.
    share = MAX_MESSAGE_BYTES // 256
    most = reply_tokens(share, 64, 20)
    assert (token_reply_bytes(64, 20), most) == (1598, 163)
    item = pb.BatchChatCompletionResult(response=_reply(most, 64, 20))
    assert pb.BatchChatCompletionResponse(results=[item] * 256).ByteSize() <= MAX_MESSAGE_BYTES
    old = pb.BatchChatCompletionResult(response=_reply(195, 64, 20))
    assert pb.BatchChatCompletionResponse(results=[old] * 256).ByteSize() > MAX_MESSAGE_BYTES


def test_a_reply_keeps_chunks_while_they_fit() -> None:
    token = _token(8)
    chunk = GenerationChunk(token, 1, 1, 1, [TokenLogprob(token, -1.0, ((token, -1.0), (token, -2.0)))])
    reply = ReplyLogprobs(REPLY_FRAME_BYTES + 3 * token_reply_bytes(8, 2), top_k=2)
    assert reply.fits is not None
    assert [reply.fits(chunk) for _ in range(4)] == [True, True, True, False]
    assert [entry.token for entry in reply.entries] == [token] * 3
    assert ReplyLogprobs(MAX_MESSAGE_BYTES, top_k=0).fits is None  # no logprobs asked for: nothing to bound


def _refusal(max_tokens: int) -> InvalidArgument:
    engine: Any = SimpleNamespace(max_token_text_bytes=32, context_length=100_000)
    with pytest.raises(InvalidArgument) as refused:
        ReplyLogprobs(MAX_MESSAGE_BYTES, top_k=20).fitted(engine, "m", SamplingParams(max_tokens=max_tokens))
    return refused.value


def test_the_openai_edge_answers_a_refused_max_tokens_with_a_400_naming_it() -> None:
    refused = _refusal(80_000)  # SmolLM2-sized tokens: 75064 fit
    assert refused.metadata["max_tokens"] == "75064"
    for names in (CHAT_FIELDS, COMPLETION_FIELDS):
        error = from_mesh_error(refused, names)
        assert (error.status, error.param, error.code) == (400, "max_tokens", "reply_too_large")
        assert error.message.startswith("max_tokens: with logprobs of 20 alternatives a reply holds at most 75064")
        assert error.message.endswith(
            "set max_tokens to at most 75064, ask for fewer alternatives, or stream the reply"
        )
