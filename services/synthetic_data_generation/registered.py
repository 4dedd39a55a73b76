"""Looking up what a request names in the gateway's registry before any work starts, so that a wrong name is an error
of the call (naming the request field) rather than a failure halfway through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from llama.common.v1 import resources_pb2 as res
from llama.registry.v1 import registry_pb2
from llama_mesh.runtime.errors import InvalidArgument, NotFound, RemoteError
from llama_mesh.runtime.gateway_client import GatewayClient

Resource = TypeVar("Resource")


async def _lookup(
    gateway: GatewayClient, method: Callable[..., Awaitable[Resource]], request: object, field: str, time_left: float
) -> Resource:
    try:
        return await gateway.call(method, request, time_left)
    except RemoteError as error:
        if error.reason == "RESOURCE_NOT_FOUND":
            raise NotFound(f"{field}: {error.message}", reason="RESOURCE_NOT_FOUND", field=field) from error
        raise


async def llm(gateway: GatewayClient, model_id: str, field: str, time_left: float) -> res.Model:
    """The registered model `model_id`, which must be an LLM."""
    request = registry_pb2.GetModelRequest(model_id=model_id)
    model = await _lookup(gateway, gateway.registry.GetModel, request, field, time_left)
    if model.model_type != res.MODEL_TYPE_LLM:
        raise InvalidArgument(field, f"{model_id!r} is not an LLM (it is {res.ModelType.Name(model.model_type)})")
    return model


async def scoring_function(
    gateway: GatewayClient, function_id: str, field: str, time_left: float
) -> res.ScoringFunction:
    request = registry_pb2.GetScoringFunctionRequest(scoring_function_id=function_id)
    function = await _lookup(gateway, gateway.registry.GetScoringFunction, request, field, time_left)
    return function


async def dataset(gateway: GatewayClient, dataset_id: str, field: str, time_left: float) -> res.Dataset:
    request = registry_pb2.GetDatasetRequest(dataset_id=dataset_id)
    found = await _lookup(gateway, gateway.registry.GetDataset, request, field, time_left)
    return found
