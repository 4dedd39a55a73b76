"""The one client every service uses to call other APIs: typed stubs on one shared channel to the gateway.

Every call made through it passes on the served call's deadline (or a default), acts for the caller the gateway
named (see `caller.py`; added by the channel), and turns a failed call into `RemoteError`, which keeps the callee's
status code, message and ErrorInfo, so the error interceptor answers the original caller with them.

    gateway = GatewayClient(config.gateway.address)
    model = await gateway.call(gateway.registry.GetModel, GetModelRequest(model_id=...), context)
    async for chunk in gateway.stream(gateway.inference.StreamChatCompletion, request, context): ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from functools import cached_property
from typing import Any, TypeVar

import grpc

from llama.agents.v1 import agents_pb2_grpc, responses_pb2_grpc
from llama.datasetio.v1 import datasetio_pb2_grpc
from llama.eval.v1 import eval_pb2_grpc
from llama.inference.v1 import inference_pb2_grpc
from llama.inspect.v1 import inspect_pb2_grpc
from llama.post_training.v1 import post_training_pb2_grpc
from llama.registry.v1 import registry_pb2_grpc
from llama.safety.v1 import safety_pb2_grpc
from llama.scoring.v1 import scoring_pb2_grpc
from llama.synthetic_data_generation.v1 import synthetic_data_generation_pb2_grpc
from llama.telemetry.v1 import telemetry_pb2_grpc
from llama.tool_runtime.v1 import tool_runtime_pb2_grpc
from llama.vector_io.v1 import vector_io_pb2_grpc
from llama_mesh.runtime.channels import LazyChannel
from llama_mesh.runtime.errors import RemoteError

Reply = TypeVar("Reply")

# A call made with neither a served call's deadline nor an explicit timeout still ends: registry look-ups are quick;
# model calls may take minutes on a CPU.
DEFAULT_TIMEOUT_SECONDS = 600.0


def time_left(context: grpc.aio.ServicerContext | None, default: float = DEFAULT_TIMEOUT_SECONDS) -> float:
    """What remains of the served call's deadline (never negative), or `default` when it has none."""
    remaining = context.time_remaining() if context is not None else None
    return default if remaining is None else max(remaining, 0.0)


Deadline = grpc.aio.ServicerContext | float | None
Metadata = tuple[tuple[str, str], ...]


def _timeout(deadline: Deadline) -> float:
    if deadline is None or isinstance(deadline, int | float):
        return DEFAULT_TIMEOUT_SECONDS if deadline is None else float(deadline)
    return time_left(deadline)


class GatewayClient:
    """Typed stubs for every API, on one channel to the gateway opened on first use (inside the event loop)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._channel = LazyChannel(address)

    @property
    def channel(self) -> grpc.aio.Channel:
        return self._channel.get()

    @cached_property
    def registry(self) -> registry_pb2_grpc.RegistryServiceStub:
        return registry_pb2_grpc.RegistryServiceStub(self.channel)

    @cached_property
    def inspect(self) -> inspect_pb2_grpc.InspectServiceStub:
        return inspect_pb2_grpc.InspectServiceStub(self.channel)

    @cached_property
    def inference(self) -> inference_pb2_grpc.InferenceServiceStub:
        return inference_pb2_grpc.InferenceServiceStub(self.channel)

    @cached_property
    def safety(self) -> safety_pb2_grpc.SafetyServiceStub:
        return safety_pb2_grpc.SafetyServiceStub(self.channel)

    @cached_property
    def vector_io(self) -> vector_io_pb2_grpc.VectorIOServiceStub:
        return vector_io_pb2_grpc.VectorIOServiceStub(self.channel)

    @cached_property
    def tool_runtime(self) -> tool_runtime_pb2_grpc.ToolRuntimeServiceStub:
        return tool_runtime_pb2_grpc.ToolRuntimeServiceStub(self.channel)

    @cached_property
    def datasetio(self) -> datasetio_pb2_grpc.DatasetIOServiceStub:
        return datasetio_pb2_grpc.DatasetIOServiceStub(self.channel)

    @cached_property
    def scoring(self) -> scoring_pb2_grpc.ScoringServiceStub:
        return scoring_pb2_grpc.ScoringServiceStub(self.channel)

    @cached_property
    def eval(self) -> eval_pb2_grpc.EvalServiceStub:
        return eval_pb2_grpc.EvalServiceStub(self.channel)

    @cached_property
    def agents(self) -> agents_pb2_grpc.AgentsServiceStub:
        return agents_pb2_grpc.AgentsServiceStub(self.channel)

    @cached_property
    def responses(self) -> responses_pb2_grpc.ResponsesServiceStub:
        return responses_pb2_grpc.ResponsesServiceStub(self.channel)

    @cached_property
    def conversations(self) -> responses_pb2_grpc.ConversationsServiceStub:
        return responses_pb2_grpc.ConversationsServiceStub(self.channel)

    @cached_property
    def telemetry(self) -> telemetry_pb2_grpc.TelemetryServiceStub:
        return telemetry_pb2_grpc.TelemetryServiceStub(self.channel)

    @cached_property
    def post_training(self) -> post_training_pb2_grpc.PostTrainingServiceStub:
        return post_training_pb2_grpc.PostTrainingServiceStub(self.channel)

    @cached_property
    def synthetic_data(self) -> synthetic_data_generation_pb2_grpc.SyntheticDataGenerationServiceStub:
        return synthetic_data_generation_pb2_grpc.SyntheticDataGenerationServiceStub(self.channel)

    async def call(
        self,
        method: Callable[..., Awaitable[Reply]],
        request: object,
        deadline: Deadline = None,
        metadata: Metadata | None = None,
    ) -> Reply:
        """One unary call. `deadline`: the served call's context (its remaining time is passed on), a timeout in
        seconds, or None for the default. `metadata`: headers of this call (an edge's caller token, trace context).
        A failed call raises RemoteError."""
        try:
            return await method(request, timeout=_timeout(deadline), metadata=metadata)
        except grpc.aio.AioRpcError as error:
            raise RemoteError(error) from error

    async def stream(
        self, method: Callable[..., Any], request: object, deadline: Deadline = None, metadata: Metadata | None = None
    ) -> AsyncIterator[Any]:
        """The messages of one server-streaming call, with the same deadline, metadata and error rules as `call`.
        Closing the iterator early cancels the call."""
        call = method(request, timeout=_timeout(deadline), metadata=metadata)
        try:
            async for message in call:
                yield message
        except grpc.aio.AioRpcError as error:
            raise RemoteError(error) from error
        finally:
            call.cancel()

    async def close(self) -> None:
        """Closes the channel; stubs made after this open a new one."""
        for name in [name for name, value in vars(type(self)).items() if isinstance(value, cached_property)]:
            self.__dict__.pop(name, None)
        await self._channel.close()
