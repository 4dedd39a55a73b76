"""Shared helpers: start a distribution on free loopback ports, time streamed chats, summarise and print results."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llama.common.v1 import content_pb2, messages_pb2, sampling_pb2
from llama.inference.v1 import inference_pb2
from llama_mesh.launcher import LocalMesh, isolated_env

MODEL_ID = "smollm2-135m-instruct"  # registered identifier (gateway)
PROMPT = "Write a short story about a robot who learns to paint. Describe the colours it discovers."
MAX_TOKENS = 64


@contextmanager
def temp_root(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"llama-mesh-bench-{prefix}-") as root:
        yield Path(root)


def make_mesh(distribution: str, root: Path, traced: bool = False, env: dict[str, str] | None = None) -> LocalMesh:
    env = {**isolated_env(root / "data"), "LLAMA_MESH_TRACE_EXPORTER": "otlp" if traced else "none", **(env or {})}
    return LocalMesh(distribution, env=env, log_dir=root / "logs")


@contextmanager
def running_mesh(
    distribution: str,
    root: Path,
    timeout: float = 900.0,
    traced: bool = False,
    also: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Iterator[LocalMesh]:
    """Gateway + inference service of `distribution` (+ the telemetry service when `traced`; untraced otherwise;
    + the services named in `also`; `env`: extra environment variables), stopped on exit whatever happens."""
    mesh = make_mesh(distribution, root, traced, env)
    try:
        mesh.start(timeout=timeout, only={"gateway", "inference", *also, *(("telemetry",) if traced else ())})
        yield mesh
    except BaseException:
        for name in mesh.processes:  # the logs live in a temporary directory: show them before it goes
            print(f"--- {name} log (last lines) ---\n{mesh.log_tail(name)}", flush=True)
        raise
    finally:
        mesh.stop()


def register_vector_db(channel: Any, identifier: str, embedding_model: str, dimension: int) -> None:
    """Register a vector DB through the gateway's registry (on `channel`)."""
    from llama.common.v1 import resources_pb2
    from llama.registry.v1 import registry_pb2, registry_pb2_grpc

    vector_db = resources_pb2.VectorDB(
        identifier=identifier, embedding_model=embedding_model, embedding_dimension=dimension
    )
    registry_pb2_grpc.RegistryServiceStub(channel).RegisterVectorDB(
        registry_pb2.RegisterVectorDBRequest(vector_db=vector_db), timeout=120
    )


def chat_request(
    model_id: str = MODEL_ID, prompt: str = PROMPT, max_tokens: int = MAX_TOKENS
) -> inference_pb2.StreamChatCompletionRequest:
    return inference_pb2.StreamChatCompletionRequest(
        model_id=model_id,
        messages=[messages_pb2.Message(role=messages_pb2.ROLE_USER, content=content_pb2.Content(text=prompt))],
        sampling_params=sampling_pb2.SamplingParams(
            strategy=sampling_pb2.SamplingStrategy(greedy=sampling_pb2.GreedySampling()), max_tokens=max_tokens
        ),
    )


@dataclass
class StreamSample:
    ttft_s: float  # request sent -> first text
    total_s: float  # request sent -> end of stream
    tokens: int  # completion tokens

    @property
    def e2e_tps(self) -> float:
        return self.tokens / self.total_s if self.total_s > 0 else 0.0

    @property
    def decode_tps(self) -> float:
        decode = self.total_s - self.ttft_s
        return (self.tokens - 1) / decode if self.tokens > 1 and decode > 0 else 0.0


@dataclass
class StreamTally:
    """What the events of one StreamChatCompletion tell, as they come (sync or async streams alike)."""

    start: float = field(default_factory=time.perf_counter)  # when the request was sent
    first: float | None = None  # when the first text came
    tokens: int = 0  # completion tokens, from the complete event

    def see(self, event: Any) -> None:
        kind = event.WhichOneof("event")
        if kind == "chunk" and self.first is None and event.chunk.text_delta:
            self.first = time.perf_counter()
        elif kind == "complete":
            self.tokens = event.complete.usage.completion_tokens
        elif kind == "error":
            raise RuntimeError(f"stream error: {event.error.reason} {event.error.message}")

    def sample(self) -> StreamSample:
        """The stream's sample, now that it has ended."""
        end = time.perf_counter()
        return StreamSample(ttft_s=(self.first or end) - self.start, total_s=end - self.start, tokens=self.tokens)


def timed_grpc_stream(stub: Any, request: Any, metadata: tuple = ()) -> StreamSample:
    """One StreamChatCompletion over a (sync) gRPC stub."""
    tally = StreamTally()
    for event in stub.StreamChatCompletion(request, metadata=metadata or None, timeout=600):
        tally.see(event)
    return tally.sample()


def summarize(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0, "p50": float("nan"), "p90": float("nan"), "mean": float("nan")}

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {"n": len(ordered), "p50": pct(0.5), "p90": pct(0.9), "mean": statistics.fmean(ordered)}


def summarize_streams(samples: list[StreamSample]) -> dict[str, Any]:
    return {
        "ttft_ms": summarize([s.ttft_s * 1000 for s in samples]),
        "e2e_tok_per_s": summarize([s.e2e_tps for s in samples]),
        "decode_tok_per_s": summarize([s.decode_tps for s in samples]),
        "completion_tokens": summarize([float(s.tokens) for s in samples]),
        "samples": [asdict(s) for s in samples],
    }


def interleaved(sides: int, total: int, block: int) -> Iterator[tuple[int, int]]:
    """(side, count) blocks in turn, side 0, 1, ..., 0, 1, ... until every side got `total` calls."""
    done = [0] * sides
    while min(done) < total:
        for side in range(sides):
            count = min(block, total - done[side])
            if count:
                done[side] += count
                yield side, count


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    cells = [header] + [[f"{c:.2f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for index, row in enumerate(cells):
        padded = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        print("  " + "  ".join(padded))
        if index == 0:
            print("  " + "  ".join("-" * w for w in widths))


def write_json(path: str | None, data: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(data, indent=2))
        print(f"\nresults written to {path}")


def log(message: str) -> None:
    print(message, flush=True)
