"""Writing the candidates: one chat completion per (dialog, candidate) through the gateway's inference API, each with
its own seed derived from the request's seed, so that the same request gives the same candidates."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from llama.common.v1 import messages_pb2, sampling_pb2
from llama.inference.v1 import inference_pb2
from llama.synthetic_data_generation.v1 import synthetic_data_generation_pb2 as pb
from llama_mesh.client.conversions import content_text
from llama_mesh.runtime.gateway_client import GatewayClient
from services.synthetic_data_generation.config import SynthesisConfig

# Seeds handed to engines stay below 2**31: every engine (llama.cpp takes uint32, vLLM an int) accepts them.
_SEED_MASK = 0x7FFF_FFFF


@dataclass
class Candidate:
    dialog_index: int
    candidate_index: int
    seed: int
    text: str = ""
    stop_reason: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    score: float | None = None
    kept: bool = False


def request_seed(request: pb.SynthesizeDataRequest) -> int:
    """The request's seed, else its sampling params' seed, else a fresh random one."""
    if request.HasField("seed"):
        return request.seed
    if request.sampling_params.HasField("seed"):
        return request.sampling_params.seed
    return secrets.randbits(31)


def derived_seed(seed: int, *path: object) -> int:
    """A seed for one part of the work (a candidate, a dialog's RANDOM choice), from the request's seed."""
    digest = hashlib.sha256(":".join(str(part) for part in (seed, *path)).encode()).digest()
    return int.from_bytes(digest[:8], "big") & _SEED_MASK


def sampling_of(request: pb.SynthesizeDataRequest, config: SynthesisConfig) -> sampling_pb2.SamplingParams:
    """The request's sampling params with the provider's defaults where they leave the strategy or max_tokens unset
    (candidates are sampled unless greedy is asked for; their length is always bounded)."""
    params = sampling_pb2.SamplingParams()
    params.CopyFrom(request.sampling_params)
    if not params.HasField("strategy") or params.strategy.WhichOneof("strategy") is None:
        params.strategy.top_p.temperature = config.default_temperature
        params.strategy.top_p.top_p = config.default_top_p
    if not params.max_tokens:
        params.max_tokens = config.default_max_tokens
    return params


def plan_candidates(num_dialogs: int, num_candidates: int, seed: int) -> list[Candidate]:
    return [
        Candidate(dialog_index=i, candidate_index=j, seed=derived_seed(seed, "candidate", i, j))
        for i in range(num_dialogs)
        for j in range(num_candidates)
    ]


async def generate(
    gateway: GatewayClient,
    model_id: str,
    dialog: pb.Dialog,
    sampling: sampling_pb2.SamplingParams,
    candidate: Candidate,
    time_left: float,
) -> None:
    """Fill in one candidate's text, stop reason and token counts."""
    params = sampling_pb2.SamplingParams()
    params.CopyFrom(sampling)
    params.seed = candidate.seed
    request = inference_pb2.ChatCompletionRequest(model_id=model_id, messages=dialog.messages, sampling_params=params)
    reply = await gateway.call(gateway.inference.ChatCompletion, request, time_left)
    message = reply.completion_message
    candidate.text = content_text(message.content)
    candidate.stop_reason = messages_pb2.StopReason.Name(message.stop_reason).removeprefix("STOP_REASON_").lower()
    candidate.prompt_tokens = reply.usage.prompt_tokens
    candidate.completion_tokens = reply.usage.completion_tokens
