"""inline::llama-guard: asks a registered model, through the gateway's inference API, for a Llama Guard verdict."""

from __future__ import annotations

from typing import Any

import grpc
from pydantic import BaseModel, ConfigDict, Field, field_validator

from llama.common.v1 import content_pb2, messages_pb2, sampling_pb2
from llama.common.v1 import resources_pb2 as res
from llama.inference.v1 import inference_pb2
from llama.registry.v1 import registry_pb2
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, RemoteError
from llama_mesh.runtime.gateway_client import GatewayClient
from llama_mesh.runtime.struct_values import struct_dict
from services.safety.llama_guard_format import (
    CATEGORIES,
    GuardReplyError,
    build_prompt,
    normalize_codes,
    parse_reply,
)
from services.safety.provider import Level, SafetyShield, ShieldCall, Violation

# A verdict is two short lines.
MAX_REPLY_TOKENS = 20
DEFAULT_TIMEOUT_SECONDS = 120.0


class LlamaGuardConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The registered model used when a shield names none (params.model / a provider_resource_id of its own).
    model: str | None = None
    # Categories never reported by this provider's shields (a shield's params may exclude more).
    excluded_categories: list[str] = Field(default_factory=list)
    timeout_s: float = DEFAULT_TIMEOUT_SECONDS

    @field_validator("excluded_categories")
    @classmethod
    def _known(cls, codes: list[str]) -> list[str]:
        return normalize_codes(codes, "excluded_categories")


def guard_model(shield: res.Shield, params: dict[str, Any], default: str | None) -> str:
    """The registered model a shield runs: params.model, else a provider_resource_id of its own (one that differs
    from the identifier the gateway copies into it), else the provider's default model, else provider_resource_id."""
    if params.get("model"):
        return str(params["model"])
    if shield.provider_resource_id and shield.provider_resource_id != shield.identifier:
        return shield.provider_resource_id
    return default or shield.provider_resource_id or shield.identifier


class LlamaGuardShield(SafetyShield):
    def __init__(self, provider_id: str, config: LlamaGuardConfig, gateway_address: str) -> None:
        super().__init__(provider_id)
        self._config = config
        self._gateway = GatewayClient(gateway_address)

    def _excluded(self, params: dict[str, Any], field: str) -> set[str]:
        try:
            extra = normalize_codes(params.get("excluded_categories") or [], field)
        except ValueError as exc:
            raise InvalidArgument(field, str(exc).split(": ", 1)[1]) from exc
        return set(self._config.excluded_categories) | set(extra)

    async def prepare(self, shield: res.Shield) -> res.Shield:
        params = struct_dict(shield.params, "shield.params")
        self._excluded(params, "shield.params.excluded_categories")
        model_id = guard_model(shield, params, self._config.model)
        gateway = self._gateway
        try:
            model = await gateway.call(gateway.registry.GetModel, registry_pb2.GetModelRequest(model_id=model_id))
        except RemoteError as error:
            if error.code == grpc.StatusCode.NOT_FOUND:
                raise NotFound(
                    f"shield {shield.identifier!r} needs model {model_id!r}, which is not registered; "
                    "register the model first or name a registered one in params.model",
                    reason="SHIELD_MODEL_NOT_FOUND",
                    model_id=model_id,
                ) from error
            raise
        if model.model_type != res.MODEL_TYPE_LLM:
            raise FailedPrecondition(
                f"shield {shield.identifier!r} needs a text-generating model; {model_id!r} is not one",
                reason="WRONG_MODEL_TYPE",
                model_id=model_id,
            )
        completed = res.Shield()
        completed.CopyFrom(shield)
        completed.params["model"] = model_id  # resolved once; later changes to the provider default do not move it
        return completed

    async def run(self, call: ShieldCall) -> Violation | None:
        excluded = self._excluded(call.params, "params.excluded_categories")
        if excluded >= set(CATEGORIES):
            return None
        if not any(turn.role != "system" and turn.text.strip() for turn in call.turns):
            return None
        model_id = guard_model(call.shield, call.params, self._config.model)
        prompt = build_prompt(call.turns, excluded)
        reply = await self._ask(model_id, prompt, call.timeout)
        try:
            verdict = parse_reply(reply)
        except GuardReplyError as exc:
            raise FailedPrecondition(
                f"shield {call.shield.identifier!r}: {exc}; is {model_id!r} a Llama Guard model?",
                reason="UNPARSEABLE_GUARD_REPLY",
                shield_id=call.shield.identifier,
                model_id=model_id,
            ) from exc
        reported = [code for code in verdict.categories if code not in excluded]
        if verdict.safe or not reported:
            return None
        names = ", ".join(f"{code} ({CATEGORIES[code]})" for code in reported)
        return Violation(
            level=Level.ERROR,
            user_message=f"I can't help with that: it was flagged as unsafe ({names}).",
            metadata={"violation_type": ",".join(reported)},
        )

    async def _ask(self, model_id: str, prompt: str, deadline_s: float | None) -> str:
        request = inference_pb2.ChatCompletionRequest(
            model_id=model_id,
            messages=[messages_pb2.Message(role=messages_pb2.ROLE_USER, content=content_pb2.Content(text=prompt))],
            sampling_params=sampling_pb2.SamplingParams(max_tokens=MAX_REPLY_TOKENS),
        )
        timeout = deadline_s if deadline_s is not None else self._config.timeout_s
        response = await self._gateway.call(self._gateway.inference.ChatCompletion, request, timeout)
        return response.completion_message.content.text

    async def close(self) -> None:
        await self._gateway.close()
