"""inline::llm-as-judge: asks a registered model, through the gateway's inference API, to grade each row with a prompt
template, and reads the score from its reply with the judge_score_regexes.

A reply no regex matches is recorded on its row (score null, "error" saying why, the reply in "judge_feedback") and
counted as failed in the aggregates: never a made-up score. A function's metadata may constrain the judge's output:
"judge_grammar" (GBNF) or "judge_json_schema", and "judge_max_tokens".
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llama.common.v1 import content_pb2, messages_pb2, sampling_pb2
from llama.common.v1 import resources_pb2 as res
from llama.inference.v1 import inference_pb2
from llama.registry.v1 import registry_pb2
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, RemoteError
from llama_mesh.runtime.gateway_client import GatewayClient
from llama_mesh.runtime.struct_values import struct_dict
from services.scoring.answer_parsing import RegexTimeout
from services.scoring.judge_prompt import (
    DEFAULT_SCORE_REGEXES,
    DEFAULT_TEMPLATE,
    ScoreNotFinite,
    parse_score,
    render,
    template_columns,
)
from services.scoring.provider import ScoreRow, ScoringCall, ScoringProvider
from services.scoring.providers.basic import compiled

DEFAULT_MAX_TOKENS = 64
# The most tokens a function's metadata.judge_max_tokens may ask of its judge.
MAX_JUDGE_TOKENS = 8192


class JudgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Rows judged at once (each is one ChatCompletion through the gateway).
    max_concurrency: int = Field(default=2, ge=1)
    # Seconds per judge call when the caller set no deadline.
    timeout_s: float = Field(default=120.0, gt=0)


def _metadata(function: res.ScoringFunction, field: str) -> dict[str, Any]:
    """The function's metadata, with judge_max_tokens checked (INVALID_ARGUMENT naming it otherwise)."""
    metadata = struct_dict(function.metadata, f"{field}.metadata")
    max_tokens = metadata.get("judge_max_tokens", DEFAULT_MAX_TOKENS)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int | float) or max_tokens != int(max_tokens):
        raise InvalidArgument(f"{field}.metadata.judge_max_tokens", f"must be a whole number, got {max_tokens!r}")
    if not 1 <= max_tokens <= MAX_JUDGE_TOKENS:
        raise InvalidArgument(
            f"{field}.metadata.judge_max_tokens", f"must be in [1, {MAX_JUDGE_TOKENS}], got {max_tokens:g}"
        )
    return {**metadata, "judge_max_tokens": int(max_tokens)}


class JudgeScoring(ScoringProvider):
    def __init__(self, provider_id: str, config: JudgeConfig, gateway: GatewayClient) -> None:
        super().__init__(provider_id)
        self._config = config
        self._gateway = gateway

    async def prepare(self, function: res.ScoringFunction) -> res.ScoringFunction:
        params = function.params
        if params.type != res.SCORING_FUNCTION_TYPE_LLM_AS_JUDGE:
            raise InvalidArgument(
                "scoring_function.params.type",
                f"provider {self.provider_id!r} serves SCORING_FUNCTION_TYPE_LLM_AS_JUDGE",
            )
        if not params.judge_model:
            raise InvalidArgument("scoring_function.params.judge_model", "is required: a registered LLM")
        template_columns(params.prompt_template, "scoring_function.params.prompt_template")
        _metadata(function, "scoring_function")
        compiled(list(params.judge_score_regexes), "scoring_function.params.judge_score_regexes")
        await self._judge_model(params.judge_model, "scoring_function.params.judge_model")
        return function

    async def _judge_model(self, model_id: str, field: str) -> None:
        try:
            lookup = registry_pb2.GetModelRequest(model_id=model_id)
            model = await self._gateway.call(self._gateway.registry.GetModel, lookup)
        except RemoteError as error:
            if error.reason == "RESOURCE_NOT_FOUND":
                raise NotFound(
                    f"{field}: judge model {model_id!r} is not registered", reason="JUDGE_MODEL_NOT_FOUND"
                ) from error
            raise
        if model.model_type != res.MODEL_TYPE_LLM:
            raise FailedPrecondition(f"{field}: {model_id!r} is not an LLM", reason="WRONG_MODEL_TYPE")

    def required_columns(self, function: res.ScoringFunction, params: res.ScoringFunctionParams) -> tuple[str, ...]:
        return template_columns(params.prompt_template or DEFAULT_TEMPLATE, f"scoring_functions[{function.identifier}]")

    def default_aggregations(self, function: res.ScoringFunction) -> list[int]:
        return [res.AGGREGATION_FUNCTION_CATEGORICAL_COUNT]

    async def score(self, call: ScoringCall) -> list[ScoreRow]:
        params = call.params
        if not params.judge_model:
            raise InvalidArgument(
                f"scoring_functions[{call.function_id}].judge_model", "is required: name the judge model (an LLM)"
            )
        regexes = compiled(
            list(params.judge_score_regexes) or list(DEFAULT_SCORE_REGEXES),
            f"scoring_functions[{call.function_id}].judge_score_regexes",
        )
        template = params.prompt_template or DEFAULT_TEMPLATE
        prompts = [render(template, row) for row in call.rows]
        metadata = _metadata(call.function, f"scoring_functions[{call.function_id}]")
        gate = asyncio.Semaphore(self._config.max_concurrency)

        async def judge(prompt: str) -> ScoreRow:
            async with gate:
                reply = await self._ask(params.judge_model, prompt, metadata, call.timeout)
            try:
                score = await asyncio.to_thread(parse_score, reply, regexes)
            except (RegexTimeout, ScoreNotFinite) as exc:
                return {"score": None, "judge_feedback": reply, "error": str(exc)}
            if score is None:
                return {
                    "score": None,
                    "judge_feedback": reply,
                    "error": "the judge's reply matched none of the judge_score_regexes",
                }
            return {"score": score, "judge_feedback": reply}

        return list(await asyncio.gather(*(judge(prompt) for prompt in prompts)))

    async def _ask(self, model_id: str, prompt: str, metadata: dict[str, Any], time_left: float | None) -> str:
        request = inference_pb2.ChatCompletionRequest(
            model_id=model_id,
            messages=[messages_pb2.Message(role=messages_pb2.ROLE_USER, content=content_pb2.Content(text=prompt))],
            sampling_params=sampling_pb2.SamplingParams(max_tokens=metadata["judge_max_tokens"]),
        )
        if metadata.get("judge_grammar"):
            request.response_format.grammar = str(metadata["judge_grammar"])
        elif isinstance(metadata.get("judge_json_schema"), dict):
            request.response_format.json_schema.update(metadata["judge_json_schema"])
        timeout = time_left if time_left is not None else self._config.timeout_s
        reply = await self._gateway.call(self._gateway.inference.ChatCompletion, request, timeout)
        return reply.completion_message.content.text

    async def close(self) -> None:
        await self._gateway.close()
