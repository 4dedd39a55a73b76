"""POST /v1/moderations answered by a shield of the safety API: the request's `model` names the shield, else the
edge's configured `moderation_shield`. Each input is one user message for the shield; a violation at WARN or ERROR
level flags it.

OpenAI's categories are all present; a Llama Guard code (S1-S14) sets the OpenAI category it corresponds to, and the
shield's own violation type (`S10`, `prompt_injection`, `insecure_code`...) is a category of its own too. Shields give
no scores: a set category scores 1.0 (or the shield's `score` where it gives one), every other 0.0.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from google.protobuf import json_format
from pydantic import BaseModel, ConfigDict, Field, model_validator

from llama.common.v1 import content_pb2, messages_pb2, safety_violation_pb2
from llama.safety.v1 import safety_pb2
from services.openai_edge.calls import Mesh
from services.openai_edge.errors import bad_request
from services.openai_edge.json_body import JSONBodyRoute
from services.openai_edge.routes.chat import MAX_NAME

router = APIRouter(route_class=JSONBodyRoute)

MAX_INPUTS = 32
MODERATION_FIELDS = {"shield_id": "model", "messages": "input"}

OPENAI_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
# Llama Guard 3 hazard codes -> the OpenAI categories they fall under.
LLAMA_GUARD_CATEGORIES = {
    "S1": ("violence",),
    "S2": ("illicit",),
    "S3": ("sexual",),
    "S4": ("sexual/minors", "sexual"),
    "S5": ("harassment",),
    "S9": ("illicit/violent", "illicit"),
    "S10": ("hate",),
    "S11": ("self-harm",),
    "S12": ("sexual",),
}


class TextInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["text"]
    text: str


class ImageInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["image_url"]
    image_url: dict[str, Any]


class ModerationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: str | list[str] | list[Annotated[TextInput | ImageInput, Field(discriminator="type")]]
    model: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)

    @model_validator(mode="after")
    def _texts(self) -> ModerationRequest:
        items = [self.input] if isinstance(self.input, str) else self.input
        if not items:
            raise bad_request("input", "give at least one text")
        if len(items) > MAX_INPUTS:
            raise bad_request("input", f"at most {MAX_INPUTS} inputs per request, got {len(items)}")
        if any(isinstance(item, ImageInput) for item in items):
            raise bad_request("input", "images are not supported by the shields here; send text")
        return self

    @property
    def texts(self) -> list[str]:
        items = [self.input] if isinstance(self.input, str) else self.input
        return [item if isinstance(item, str) else item.text for item in items]  # type: ignore[union-attr]


def moderation_result(violation: safety_violation_pb2.SafetyViolation | None) -> dict[str, Any]:
    categories = dict.fromkeys(OPENAI_CATEGORIES, False)
    scores = dict.fromkeys(OPENAI_CATEGORIES, 0.0)
    flagged = violation is not None and violation.violation_level in (
        safety_violation_pb2.VIOLATION_LEVEL_WARN,
        safety_violation_pb2.VIOLATION_LEVEL_ERROR,
    )
    if flagged and violation is not None:
        metadata = json_format.MessageToDict(violation.metadata)
        score = metadata.get("score")
        score = float(score) if isinstance(score, int | float) else 1.0
        for kind in filter(None, str(metadata.get("violation_type", "flagged")).split(",")):
            for category in (kind, *LLAMA_GUARD_CATEGORIES.get(kind, ())):
                categories[category] = True
                scores[category] = score
    return {
        "flagged": flagged,
        "categories": categories,
        "category_scores": scores,
        "category_applied_input_types": {category: ["text"] for category in OPENAI_CATEGORIES},
        "user_message": violation.user_message if flagged and violation is not None else None,
    }


@router.post("/moderations")
async def moderations(body: ModerationRequest, request: Request, mesh: Mesh) -> Any:
    shield = body.model or request.app.state.settings.moderation_shield
    if not shield:
        raise bad_request("model", "name a shield: this edge has no default moderation_shield")
    results = []
    for text in body.texts:
        message = messages_pb2.Message(role=messages_pb2.ROLE_USER, content=content_pb2.Content(text=text))
        reply = await mesh.call(
            mesh.client.safety.RunShield,
            safety_pb2.RunShieldRequest(shield_id=shield, messages=[message]),
            MODERATION_FIELDS,
        )
        results.append(moderation_result(reply.violation if reply.HasField("violation") else None))
    return {"id": f"modr-{uuid.uuid4().hex}", "model": shield, "results": results}
