"""Unary ChatCompletion and Completion with logprobs on the real servicer and engine (SmolLM2 in llama.cpp), served as
a mesh service is but with a message limit of 64 KiB, so that a reply fills in tens of tokens: with no max_tokens it
ends where it is full (stop reason OUT_OF_TOKENS) and gRPC sends it; a max_tokens past that is refused before any
generation. (It was RESOURCE_EXHAUSTED "Sent message larger than max", once the whole generation was done.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

pytest.importorskip("llama_cpp")

from llama.common.v1 import content_pb2, messages_pb2, resources_pb2, sampling_pb2
from llama.inference.v1 import inference_pb2 as pb
from llama.inference.v1 import inference_pb2_grpc
from llama_mesh.runtime.channels import CHANNEL_OPTIONS
from llama_mesh.runtime.errors import error_info
from services.inference.providers import InferenceProvider, ModelEntry, ProviderSet
from services.inference.providers.llama_cpp import LlamaCppEngine
from services.inference.reply_limits import reply_tokens
from services.inference.servicer import InferenceServicer
from tests.fast.harness import as_resolved, serving

LIMIT = 64 * 1024
SMOLLM2_LONGEST_TOKEN = 32  # bytes: `================================` and the like
MOST = reply_tokens(LIMIT, SMOLLM2_LONGEST_TOKEN, 20)  # 72
MODEL = resources_pb2.Model(
    identifier="smollm2", provider_id="local", provider_resource_id="smollm2", model_type=resources_pb2.MODEL_TYPE_LLM
)
ENDLESS = "root ::= [a-z] root"  # the model cannot end its reply by itself

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
async def served(smollm2_path: str) -> AsyncIterator[tuple[inference_pb2_grpc.InferenceServiceStub, ProviderSet]]:
    provider = InferenceProvider(
        "local", {"smollm2": ModelEntry(source="none")}, False, lambda name, entry: LlamaCppEngine(smollm2_path, 1024)
    )
    providers = ProviderSet({"local": provider})
    options = [
        *(o for o in CHANNEL_OPTIONS if o[0] != "grpc.max_send_message_length"),
        ("grpc.max_send_message_length", LIMIT),
    ]
    servicer = InferenceServicer(providers, reply_bytes=LIMIT)
    async with (
        serving((inference_pb2_grpc.add_InferenceServiceServicer_to_server, servicer), options=options) as address,
        grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) as channel,
    ):
        yield inference_pb2_grpc.InferenceServiceStub(channel), providers
    await providers.close()


def _requests(**sampling: int) -> tuple[pb.ChatCompletionRequest, pb.CompletionRequest]:
    user = messages_pb2.Message(role=messages_pb2.ROLE_USER, content=content_pb2.Content(text="Write a long story."))
    fields: dict[str, Any] = {
        "model_id": "smollm2",
        "sampling_params": sampling_pb2.SamplingParams(**sampling),
        "response_format": sampling_pb2.ResponseFormat(grammar=ENDLESS),
        "logprobs": sampling_pb2.LogprobsConfig(top_k=20),
    }
    return (
        pb.ChatCompletionRequest(messages=[user], **fields),
        pb.CompletionRequest(content=content_pb2.Content(text="Once upon a time"), **fields),
    )


async def _call(stub: inference_pb2_grpc.InferenceServiceStub, request: Any) -> Any:
    method = stub.ChatCompletion if isinstance(request, pb.ChatCompletionRequest) else stub.Completion
    return await method(request, metadata=as_resolved(MODEL), timeout=120)


async def test_the_engine_measures_its_longest_token(served: Any) -> None:
    _, providers = served
    engine = await providers.get("local").get("smollm2")
    assert engine.max_token_text_bytes == SMOLLM2_LONGEST_TOKEN and MOST == 72


async def test_a_reply_without_max_tokens_ends_where_it_is_full(served: Any) -> None:
    stub, _ = served
    for request in _requests():
        reply = await _call(stub, request)
        if isinstance(reply, pb.ChatCompletionResponse):
            text, stop_reason = reply.completion_message.content.text, reply.completion_message.stop_reason
        else:
            text, stop_reason = reply.text, reply.stop_reason
        assert stop_reason == messages_pb2.STOP_REASON_OUT_OF_TOKENS
        assert reply.usage.completion_tokens == len(reply.logprobs) == MOST
        assert "".join(item.token for item in reply.logprobs) == text
        assert all(len(item.top_logprobs) == 20 for item in reply.logprobs)
        assert reply.ByteSize() <= LIMIT


async def test_a_max_tokens_past_what_a_reply_holds_is_refused(served: Any) -> None:
    stub, _ = served
    for request in _requests(max_tokens=MOST + 1):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _call(stub, request)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert refused.value.details().startswith(
            f"sampling_params.max_tokens: with logprobs of 20 alternatives a reply holds at most {MOST} tokens of "
            "model 'smollm2'"
        )
        info = error_info(refused.value)
        assert info is not None and (info.reason, info.metadata["max_tokens"]) == ("REPLY_TOO_LARGE", str(MOST))
    for request in _requests(max_tokens=MOST):
        reply = await _call(stub, request)
        assert len(reply.logprobs) == MOST and reply.ByteSize() <= LIMIT
