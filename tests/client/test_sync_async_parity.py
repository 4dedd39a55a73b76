"""The blocking and the async client expose the same methods with the same parameters, so code moves between them by
adding `await` / `async for`; a method added to one flavour only fails here."""

from __future__ import annotations

import asyncio
import inspect

import grpc
import pytest

from llama_mesh.client.agent import Agent, AsyncAgent
from llama_mesh.client.agents import Agents, AsyncAgents
from llama_mesh.client.client import AsyncLlamaMeshClient, LlamaMeshClient
from llama_mesh.client.datasetio import AsyncDatasetIO, DatasetIO
from llama_mesh.client.eval import AsyncEval, Eval
from llama_mesh.client.inference import AsyncInference, Inference
from llama_mesh.client.inspection import AsyncInspect, Inspect
from llama_mesh.client.post_training import AsyncPostTraining, PostTraining
from llama_mesh.client.resources import AsyncModels, AsyncResources, Models, Resources
from llama_mesh.client.safety import AsyncSafety, Safety
from llama_mesh.client.scoring import AsyncScoring, Scoring
from llama_mesh.client.synthetic_data import AsyncSyntheticData, SyntheticData
from llama_mesh.client.telemetry import AsyncTelemetry, Telemetry
from llama_mesh.client.tool_runtime import AsyncToolRuntime, ToolRuntime
from llama_mesh.client.transport import AsyncTransport, Transport
from llama_mesh.client.vector_io import AsyncVectorIO, VectorIO

PAIRS = [
    (LlamaMeshClient, AsyncLlamaMeshClient),
    (Agent, AsyncAgent),
    (Agents, AsyncAgents),
    (DatasetIO, AsyncDatasetIO),
    (Eval, AsyncEval),
    (Inference, AsyncInference),
    (Inspect, AsyncInspect),
    (Resources, AsyncResources),
    (Models, AsyncModels),
    (PostTraining, AsyncPostTraining),
    (Safety, AsyncSafety),
    (Scoring, AsyncScoring),
    (SyntheticData, AsyncSyntheticData),
    (Telemetry, AsyncTelemetry),
    (ToolRuntime, AsyncToolRuntime),
    (Transport, AsyncTransport),
    (VectorIO, AsyncVectorIO),
]
# The blocking Agent.create_turn also takes stream=False (an async generator cannot return a Turn instead; both
# flavours have create_turn_and_wait for that).
SYNC_ONLY_PARAMETERS = {("Agent", "create_turn"): {"stream"}}


def _methods(cls: type) -> dict[str, inspect.Signature]:
    found = {}
    for name, value in inspect.getmembers(cls):
        if name.startswith("_") or not callable(value):
            continue
        found[name] = inspect.signature(value)
    return found


def _parameters(signature: inspect.Signature) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


@pytest.mark.parametrize("pair", PAIRS, ids=lambda pair: pair[0].__name__)
def test_same_methods_and_parameters(pair: tuple[type, type]) -> None:
    sync, asynchronous = (_methods(cls) for cls in pair)
    assert sorted(sync) == sorted(asynchronous), f"only in one flavour: {set(sync) ^ set(asynchronous)}"
    for name in sync:
        extra = SYNC_ONLY_PARAMETERS.get((pair[0].__name__, name), set())
        blocking = [p for p in _parameters(sync[name]) if p[0] not in extra]
        assert blocking == _parameters(asynchronous[name]), f"{pair[0].__name__}.{name}"


def test_same_api_collections() -> None:
    blocking = LlamaMeshClient(channel=grpc.insecure_channel("127.0.0.1:1"))

    async def attributes() -> set[str]:
        client = AsyncLlamaMeshClient(channel=grpc.aio.insecure_channel("127.0.0.1:1"))
        return {name for name in vars(client) if not name.startswith("_")}

    assert {name for name in vars(blocking) if not name.startswith("_")} == asyncio.run(attributes())


def test_every_client_class_is_paired() -> None:
    """A new Async* class in llama_mesh.client must be added to PAIRS."""
    import llama_mesh.client as package

    paired = {cls.__name__ for pair in PAIRS for cls in pair}
    for module_info in __import__("pkgutil").iter_modules(package.__path__):
        module = __import__(f"llama_mesh.client.{module_info.name}", fromlist=["_"])
        for name, value in vars(module).items():
            if inspect.isclass(value) and name.startswith("Async") and value.__module__ == module.__name__:
                assert name in paired, f"{name} has no entry in PAIRS"
