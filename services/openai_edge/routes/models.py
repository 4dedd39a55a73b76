"""GET /v1/models and /v1/models/{id}: the registry's models (those the caller's token may use)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from llama.common.v1 import resources_pb2
from llama.registry.v1 import registry_pb2
from services.openai_edge.calls import Mesh
from services.openai_edge.json_body import JSONBodyRoute

router = APIRouter(route_class=JSONBodyRoute)

_MODEL_TYPES = {resources_pb2.MODEL_TYPE_LLM: "llm", resources_pb2.MODEL_TYPE_EMBEDDING: "embedding"}
MODEL_FIELDS = {"model_id": "model"}


def model_object(model: resources_pb2.Model) -> dict[str, Any]:
    """OpenAI's model object; the registry keeps no creation time (`created` is 0). `model_type` says which
    endpoints take the model (llm: chat and completions; embedding: embeddings)."""
    return {
        "id": model.identifier,
        "object": "model",
        "created": 0,
        "owned_by": model.provider_id,
        "model_type": _MODEL_TYPES.get(model.model_type, "unspecified"),
    }


@router.get("/models")
async def list_models(mesh: Mesh) -> dict[str, Any]:
    models: list[dict[str, Any]] = []
    token = ""
    while True:
        page = await mesh.call(
            mesh.client.registry.ListModels, registry_pb2.ListModelsRequest(page_size=1000, page_token=token)
        )
        models.extend(model_object(model) for model in page.models)
        token = page.next_page_token
        if not token:
            return {"object": "list", "data": models}


@router.get("/models/{model_id:path}")
async def get_model(model_id: str, mesh: Mesh) -> dict[str, Any]:
    request = registry_pb2.GetModelRequest(model_id=model_id)
    return model_object(await mesh.call(mesh.client.registry.GetModel, request, MODEL_FIELDS))
