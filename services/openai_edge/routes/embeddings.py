"""POST /v1/embeddings on the inference API: one text or a list of texts (at most MAX_INPUTS), as floats or as base64
of little-endian float32 (what the OpenAI SDKs ask for by default), optionally cut to `dimensions`."""

from __future__ import annotations

import array
import base64
import sys
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from llama.inference.v1 import inference_pb2
from services.openai_edge.calls import Mesh
from services.openai_edge.convert import INT32_MAX
from services.openai_edge.errors import bad_request
from services.openai_edge.json_body import JSONBodyRoute
from services.openai_edge.routes.chat import MAX_NAME

router = APIRouter(route_class=JSONBodyRoute)

MAX_INPUTS = 2048
EMBEDDING_FIELDS = {"model_id": "model", "contents": "input", "output_dimension": "dimensions"}


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=MAX_NAME)
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1, le=INT32_MAX)
    user: str | None = Field(default=None, max_length=MAX_NAME)

    @model_validator(mode="after")
    def _texts(self) -> EmbeddingsRequest:
        texts = [self.input] if isinstance(self.input, str) else self.input
        if not texts:
            raise bad_request("input", "give at least one text")
        if not all(isinstance(text, str) for text in texts):
            raise bad_request("input", "token arrays are not supported; send the texts")
        if len(texts) > MAX_INPUTS:
            raise bad_request("input", f"at most {MAX_INPUTS} texts per request, got {len(texts)}")
        return self

    @property
    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)  # type: ignore[arg-type]


def base64_floats(values: list[float]) -> str:
    packed = array.array("f", values)
    if sys.byteorder != "little":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


@router.post("/embeddings")
async def embeddings(body: EmbeddingsRequest, mesh: Mesh) -> dict[str, Any]:
    request = inference_pb2.EmbeddingsRequest(model_id=body.model, contents=body.texts)
    if body.dimensions is not None:
        request.output_dimension = body.dimensions
    reply = await mesh.call(mesh.client.inference.Embeddings, request, EMBEDDING_FIELDS)
    encode = base64_floats if body.encoding_format == "base64" else list
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": encode(embedding.values)}
            for index, embedding in enumerate(reply.embeddings)
        ],
        "model": body.model,
        "usage": {"prompt_tokens": reply.usage.prompt_tokens, "total_tokens": reply.usage.total_tokens},
    }
