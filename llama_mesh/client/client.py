"""The clients: `LlamaMeshClient` (blocking) and `AsyncLlamaMeshClient` (grpc.aio), with the same surface.

    with LlamaMeshClient("127.0.0.1:50051", timeout=30) as client:
        for model in client.models.list():
            print(model.identifier)
        vectors = client.inference.embeddings("all-MiniLM-L6-v2", ["hello", "world"])

    async with AsyncLlamaMeshClient() as client:
        response = await client.inference.chat_completion("smollm2-135m-instruct", "Hi!", max_tokens=16)

Attributes: `models`, `shields`, `vector_dbs`, `tool_groups`, `datasets`, `scoring_functions`, `benchmarks` (registry
collections), `inference`, `datasetio` (dataset rows), `scoring`, `synthetic_data`, `eval`, `agents`, `inspect`,
`safety` (shields), `tool_runtime` (tools and builtin::rag), `vector_io` (chunks) and `telemetry` (traces).
Every call takes an optional `timeout=` (seconds) that overrides the client's default; failures raise `LlamaMeshError`
subclasses.
"""

# ruff: noqa: ASYNC109 - `timeout` is the gRPC deadline handed to the call, named as grpc.aio names it.

from __future__ import annotations

from types import TracebackType
from typing import Any

import grpc

from llama.common.v1 import resources_pb2 as res
from llama.registry.v1 import registry_pb2_grpc
from llama_mesh.client.agents import Agents, AsyncAgents
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
from llama_mesh.client.transport import DEFAULT_ADDRESS, AsyncTransport, Metadata, Transport
from llama_mesh.client.vector_io import AsyncVectorIO, VectorIO
from llama_mesh.resources import KIND_BY_NAME


class LlamaMeshClient:
    """A blocking client of the gateway; use it as a context manager or call `close()`.

    `timeout` is the default deadline of every call in seconds (None: none); `channel` replaces the channel the
    client would open to `address` (it is then not closed by the client); `metadata` is sent with every call.
    `token` is the gateway's bearer token (default: $LLAMA_MESH_TOKEN); `credentials` make the channel TLS, e.g.
    `grpc.ssl_channel_credentials(Path("ca.pem").read_bytes())`.
    """

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        timeout: float | None = None,
        *,
        channel: grpc.Channel | None = None,
        metadata: Metadata | None = None,
        token: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self._transport = Transport(
            address, timeout, channel=channel, metadata=metadata, token=token, credentials=credentials
        )
        registry = registry_pb2_grpc.RegistryServiceStub(self._transport.channel)
        self.models = Models(self._transport, registry, KIND_BY_NAME["model"])
        self.shields: Resources[res.Shield] = Resources(self._transport, registry, KIND_BY_NAME["shield"])
        self.vector_dbs: Resources[res.VectorDB] = Resources(self._transport, registry, KIND_BY_NAME["vector_db"])
        self.tool_groups: Resources[res.ToolGroup] = Resources(self._transport, registry, KIND_BY_NAME["tool_group"])
        self.datasets: Resources[res.Dataset] = Resources(self._transport, registry, KIND_BY_NAME["dataset"])
        self.scoring_functions: Resources[res.ScoringFunction] = Resources(
            self._transport, registry, KIND_BY_NAME["scoring_function"]
        )
        self.benchmarks: Resources[res.Benchmark] = Resources(self._transport, registry, KIND_BY_NAME["benchmark"])
        self.inference = Inference(self._transport)
        self.eval = Eval(self._transport)
        self.post_training = PostTraining(self._transport)
        self.inspect = Inspect(self._transport)
        self.datasetio = DatasetIO(self._transport)
        self.scoring = Scoring(self._transport)
        self.synthetic_data = SyntheticData(self._transport)
        self.agents = Agents(self._transport)
        self.safety = Safety(self._transport)
        self.tool_runtime = ToolRuntime(self._transport)
        self.vector_io = VectorIO(self._transport)
        self.telemetry = Telemetry(self._transport)

    @property
    def address(self) -> str:
        return self._transport.address

    @property
    def timeout(self) -> float | None:
        return self._transport.timeout

    @property
    def channel(self) -> grpc.Channel:
        """The underlying channel, for stubs of APIs this client does not wrap."""
        return self._transport.channel

    def wait_for_ready(self, timeout: float = 10.0) -> None:
        """Block until the gateway accepts the connection; GatewayUnreachableError after `timeout` seconds."""
        self._transport.wait_for_ready(timeout)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> LlamaMeshClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LlamaMeshClient(address={self.address!r}, timeout={self.timeout!r})"


class AsyncLlamaMeshClient:
    """The grpc.aio client, with `LlamaMeshClient`'s surface; use `async with` or `await close()`."""

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        timeout: float | None = None,
        *,
        channel: grpc.aio.Channel | None = None,
        metadata: Metadata | None = None,
        token: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self._transport = AsyncTransport(
            address, timeout, channel=channel, metadata=metadata, token=token, credentials=credentials
        )
        registry = registry_pb2_grpc.RegistryServiceStub(self._transport.channel)

        def collection(name: str) -> AsyncResources[Any]:
            return AsyncResources(self._transport, registry, KIND_BY_NAME[name])

        self.models = AsyncModels(self._transport, registry, KIND_BY_NAME["model"])
        self.shields: AsyncResources[res.Shield] = collection("shield")
        self.vector_dbs: AsyncResources[res.VectorDB] = collection("vector_db")
        self.tool_groups: AsyncResources[res.ToolGroup] = collection("tool_group")
        self.datasets: AsyncResources[res.Dataset] = collection("dataset")
        self.scoring_functions: AsyncResources[res.ScoringFunction] = collection("scoring_function")
        self.benchmarks: AsyncResources[res.Benchmark] = collection("benchmark")
        self.inference = AsyncInference(self._transport)
        self.eval = AsyncEval(self._transport)
        self.post_training = AsyncPostTraining(self._transport)
        self.inspect = AsyncInspect(self._transport)
        self.datasetio = AsyncDatasetIO(self._transport)
        self.scoring = AsyncScoring(self._transport)
        self.synthetic_data = AsyncSyntheticData(self._transport)
        self.agents = AsyncAgents(self._transport)
        self.safety = AsyncSafety(self._transport)
        self.tool_runtime = AsyncToolRuntime(self._transport)
        self.vector_io = AsyncVectorIO(self._transport)
        self.telemetry = AsyncTelemetry(self._transport)

    @property
    def address(self) -> str:
        return self._transport.address

    @property
    def timeout(self) -> float | None:
        return self._transport.timeout

    @property
    def channel(self) -> grpc.aio.Channel:
        return self._transport.channel

    async def wait_for_ready(self, timeout: float = 10.0) -> None:
        """Wait until the gateway accepts the connection; GatewayUnreachableError after `timeout` seconds."""
        await self._transport.wait_for_ready(timeout)

    async def close(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> AsyncLlamaMeshClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncLlamaMeshClient(address={self.address!r}, timeout={self.timeout!r})"
