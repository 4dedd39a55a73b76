"""POST /v1/completions (the legacy text completion) on the inference API, unary or streamed.

One prompt (a string, or a list of one string) and one choice per request; `echo` puts the prompt before the
completion (not with logprobs: prompt tokens have none here); `suffix` and `best_of` > 1 are refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from llama.common.v1 import content_pb2, sampling_pb2
from llama.inference.v1 import inference_pb2
from services.openai_edge import convert
from services.openai_edge.calls import Mesh
from services.openai_edge.errors import bad_request
from services.openai_edge.json_body import JSONBodyRoute
from services.openai_edge.routes.chat import MAX_NAME, MAX_STOP, StreamOptions
from services.openai_edge.sse import Envelope, EventStream, opened

router = APIRouter(route_class=JSONBodyRoute)

COMPLETION_FIELDS = {**convert.SAMPLING_FIELDS, "model_id": "model", "content": "prompt", "logprobs.top_k": "logprobs"}


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=MAX_NAME)
    prompt: str | list[str]
    stream: bool = False
    stream_options: StreamOptions | None = None
    # OpenAI's default for this endpoint.
    max_tokens: int | None = Field(default=16, ge=1, le=convert.INT32_MAX)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = Field(default=None, ge=convert.INT64_MIN, le=convert.INT64_MAX)
    logprobs: int | None = Field(default=None, ge=0, le=20)
    echo: bool = False
    n: int | None = Field(default=None, ge=1, le=128)
    best_of: int | None = Field(default=None, ge=1, le=20)
    suffix: str | None = None
    user: str | None = Field(default=None, max_length=MAX_NAME)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None

    @model_validator(mode="after")
    def _supported(self) -> CompletionRequest:
        if isinstance(self.prompt, list) and len(self.prompt) != 1:
            raise bad_request("prompt", "give one prompt (a string or a list of one string) per request")
        if isinstance(self.stop, list) and len(self.stop) > MAX_STOP:
            raise bad_request("stop", f"at most {MAX_STOP} stop strings, got {len(self.stop)}")
        for name in ("n", "best_of"):
            if (getattr(self, name) or 1) > 1:
                raise bad_request(name, "only one choice per request is supported")
        if self.suffix:
            raise bad_request("suffix", "is not supported")
        if self.echo and self.logprobs is not None:
            raise bad_request("echo", "cannot be combined with logprobs")
        for name in ("frequency_penalty", "presence_penalty"):
            if getattr(self, name):
                raise bad_request(name, "is not supported; leave it unset or 0")
        if self.logit_bias:
            raise bad_request("logit_bias", "is not supported")
        if self.stream_options is not None and not self.stream:
            raise bad_request("stream_options", "is only allowed with stream: true")
        return self

    @property
    def prompt_text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]


def _logprobs(items: list[sampling_pb2.TokenLogprob], offset: int) -> dict[str, Any]:
    """The legacy shape: parallel lists of tokens, their logprobs, their alternatives and their text offsets."""
    offsets = []
    for item in items:
        offsets.append(offset)
        offset += len(item.token)
    return {
        "tokens": [item.token for item in items],
        "token_logprobs": [item.logprob for item in items],
        "top_logprobs": [{top.token: top.logprob for top in item.top_logprobs} for item in items],
        "text_offset": offsets,
    }


def completion_request(body: CompletionRequest) -> inference_pb2.CompletionRequest:
    request = inference_pb2.CompletionRequest(
        model_id=body.model,
        content=content_pb2.Content(text=body.prompt_text),
        sampling_params=convert.sampling(body.temperature, body.top_p, body.max_tokens, body.stop, body.seed),
    )
    if body.logprobs is not None:
        request.logprobs.top_k = body.logprobs
    return request


@router.post("/completions")
async def completions(body: CompletionRequest, mesh: Mesh) -> Any:
    request = completion_request(body)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        envelope = Envelope("text_completion", "cmpl", body.model, include_usage)
        streamed = convert.as_stream_request(request, inference_pb2.StreamCompletionRequest)
        events = await opened(mesh.stream(mesh.client.inference.StreamCompletion, streamed, COMPLETION_FIELDS))
        return EventStream(_chunks(body, events, envelope), events)
    reply = await mesh.call(mesh.client.inference.Completion, request, COMPLETION_FIELDS)
    choice = {
        "index": 0,
        "text": (body.prompt_text if body.echo else "") + reply.text,
        "logprobs": _logprobs(list(reply.logprobs), 0) if body.logprobs is not None else None,
        "finish_reason": convert.finish_reason(reply.stop_reason),
    }
    return Envelope("text_completion", "cmpl", body.model).wrap([choice], usage=convert.usage(reply.usage))


async def _chunks(
    body: CompletionRequest, events: AsyncIterator[inference_pb2.StreamCompletionResponse], envelope: Envelope
) -> AsyncIterator[dict[str, Any]]:
    def chunk(text: str, finish: str | None = None, logprobs: Any = None) -> dict[str, Any]:
        return envelope.wrap([{"index": 0, "text": text, "logprobs": logprobs, "finish_reason": finish}])

    if body.echo:
        yield chunk(body.prompt_text)
    offset = 0
    async for event in events:
        kind = event.WhichOneof("event")
        if kind == "chunk":
            logprobs = _logprobs(list(event.chunk.logprobs), offset) if body.logprobs is not None else None
            offset += len(event.chunk.text_delta)
            yield chunk(event.chunk.text_delta, logprobs=logprobs)
        elif kind == "error":
            raise convert.stream_error(event.error)
        elif kind == "complete":
            yield chunk("", convert.finish_reason(event.complete.stop_reason))
            if envelope.include_usage:
                yield envelope.usage_chunk(convert.usage(event.complete.usage))
            return
