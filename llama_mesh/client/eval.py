"""`client.eval`: run benchmarks as jobs, follow them, read their results, evaluate rows inline; sync and async.

    job = client.eval.run_eval("meta-reference-mmlu-cot", model="smollm2-135m-instruct", num_examples=5,
                               max_tokens=256)
    while client.eval.get_job("meta-reference-mmlu-cot", job.job_id).status not in FINAL_STATES:
        time.sleep(1)
    result = client.eval.job_result("meta-reference-mmlu-cot", job.job_id)   # generations + scores

The candidate is a model (`model=` with sampling keywords: max_tokens, temperature, top_p, top_k, stop, seed,
repetition_penalty, and `system_message=`), an agent (`agent_config=`, a dict or AgentConfig proto), or a ready
`config=` BenchmarkConfig proto.
"""

# ruff: noqa: ASYNC109 - `timeout` is the gRPC deadline handed to the call, named as grpc.aio names it.

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from google.protobuf import json_format

from llama.common.v1 import agent_config_pb2, jobs_pb2, messages_pb2, resources_pb2
from llama.eval.v1 import eval_pb2, eval_pb2_grpc
from llama_mesh.client.conversions import SAMPLING_KEYS, copied, sampling_params, to_content, to_struct
from llama_mesh.client.transport import AsyncTransport, Transport
from llama_mesh.runtime.job_messages import FINAL_STATES  # noqa: F401  (re-exported for callers that poll jobs)

ScoringParams = Mapping[str, resources_pb2.ScoringFunctionParams | Mapping[str, Any]]


def benchmark_config(
    model: str | None = None,
    *,
    agent_config: agent_config_pb2.AgentConfig | Mapping[str, Any] | None = None,
    system_message: str | messages_pb2.Message | None = None,
    num_examples: int | None = None,
    scoring_params: ScoringParams | None = None,
    config: eval_pb2.BenchmarkConfig | None = None,
    **sampling: Any,
) -> eval_pb2.BenchmarkConfig:
    """The BenchmarkConfig of a model or agent candidate (ValueError / TypeError for bad values)."""
    if config is not None:
        return copied(config)
    unknown = set(sampling) - SAMPLING_KEYS
    if unknown:
        raise TypeError(f"unknown keyword(s): {', '.join(sorted(unknown))}")
    if (model is None) == (agent_config is None):
        raise ValueError("give exactly one candidate: model= or agent_config=")
    built = eval_pb2.BenchmarkConfig()
    if model is not None:
        candidate = built.eval_candidate.model
        candidate.model = model
        candidate.sampling_params.CopyFrom(sampling_params(**sampling))
        if system_message is not None:
            candidate.system_message.CopyFrom(
                system_message
                if isinstance(system_message, messages_pb2.Message)
                else messages_pb2.Message(role=messages_pb2.ROLE_SYSTEM, content=to_content(system_message))
            )
    else:
        agent = (
            copied(agent_config)
            if isinstance(agent_config, agent_config_pb2.AgentConfig)
            else json_format.ParseDict(dict(agent_config or {}), agent_config_pb2.AgentConfig())
        )
        built.eval_candidate.agent.config.CopyFrom(agent)
    if num_examples is not None:
        if num_examples < 0:
            raise ValueError("num_examples must be >= 0")
        built.num_examples = num_examples
    for name, params in (scoring_params or {}).items():
        built.scoring_params[name].CopyFrom(
            params
            if isinstance(params, resources_pb2.ScoringFunctionParams)
            else json_format.ParseDict(dict(params), resources_pb2.ScoringFunctionParams())
        )
    return built


def run_eval_request(benchmark_id: str, model: str | None, **candidate: Any) -> eval_pb2.RunEvalRequest:
    return eval_pb2.RunEvalRequest(benchmark_id=benchmark_id, benchmark_config=benchmark_config(model, **candidate))


def evaluate_rows_request(
    benchmark_id: str,
    rows: Sequence[Mapping[str, Any]],
    model: str | None,
    scoring_functions: Sequence[str],
    **candidate: Any,
) -> eval_pb2.EvaluateRowsRequest:
    return eval_pb2.EvaluateRowsRequest(
        benchmark_id=benchmark_id,
        input_rows=[to_struct(row) for row in rows],
        scoring_functions=list(scoring_functions),
        benchmark_config=benchmark_config(model, **candidate),
    )


class Eval:
    """EvalService calls through the gateway (blocking)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._stub = eval_pb2_grpc.EvalServiceStub(transport.channel)

    def run_eval(
        self, benchmark_id: str, model: str | None = None, *, timeout: float | None = None, **candidate: Any
    ) -> jobs_pb2.Job:
        """Start a job over the benchmark's dataset; returns at once (QUEUED or RUNNING)."""
        request = run_eval_request(benchmark_id, model, **candidate)
        return self._transport.unary(self._stub.RunEval, request, timeout)

    def get_job(self, benchmark_id: str, job_id: str, *, timeout: float | None = None) -> jobs_pb2.Job:
        request = eval_pb2.GetEvalJobRequest(benchmark_id=benchmark_id, job_id=job_id)
        return self._transport.unary(self._stub.GetEvalJob, request, timeout)

    def cancel_job(self, benchmark_id: str, job_id: str, *, timeout: float | None = None) -> jobs_pb2.Job:
        request = eval_pb2.CancelEvalJobRequest(benchmark_id=benchmark_id, job_id=job_id)
        return self._transport.unary(self._stub.CancelEvalJob, request, timeout)

    def job_result(
        self, benchmark_id: str, job_id: str, *, timeout: float | None = None
    ) -> eval_pb2.GetEvalJobResultResponse:
        """Generations and scores of a COMPLETED job (FailedPreconditionError before)."""
        request = eval_pb2.GetEvalJobResultRequest(benchmark_id=benchmark_id, job_id=job_id)
        return self._transport.unary(self._stub.GetEvalJobResult, request, timeout)

    def iter_jobs(
        self, benchmark_id: str, *, page_size: int = 0, timeout: float | None = None
    ) -> Iterator[jobs_pb2.Job]:
        """The benchmark's jobs, newest first, page after page."""
        request = eval_pb2.ListEvalJobsRequest(benchmark_id=benchmark_id, page_size=page_size)
        return self._transport.pages(self._stub.ListEvalJobs, request, "jobs", timeout)

    def list_jobs(self, benchmark_id: str, *, timeout: float | None = None) -> list[jobs_pb2.Job]:
        return list(self.iter_jobs(benchmark_id, timeout=timeout))

    def evaluate_rows(
        self,
        benchmark_id: str,
        rows: Sequence[Mapping[str, Any]],
        model: str | None = None,
        *,
        scoring_functions: Sequence[str] = (),
        timeout: float | None = None,
        **candidate: Any,
    ) -> eval_pb2.EvaluateRowsResponse:
        """Generate and score the given rows within the call."""
        request = evaluate_rows_request(benchmark_id, rows, model, scoring_functions, **candidate)
        return self._transport.unary(self._stub.EvaluateRows, request, timeout)


class AsyncEval:
    """The async flavour of `Eval`."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport
        self._stub = eval_pb2_grpc.EvalServiceStub(transport.channel)

    async def run_eval(
        self, benchmark_id: str, model: str | None = None, *, timeout: float | None = None, **candidate: Any
    ) -> jobs_pb2.Job:
        request = run_eval_request(benchmark_id, model, **candidate)
        return await self._transport.unary(self._stub.RunEval, request, timeout)

    async def get_job(self, benchmark_id: str, job_id: str, *, timeout: float | None = None) -> jobs_pb2.Job:
        request = eval_pb2.GetEvalJobRequest(benchmark_id=benchmark_id, job_id=job_id)
        return await self._transport.unary(self._stub.GetEvalJob, request, timeout)

    async def cancel_job(self, benchmark_id: str, job_id: str, *, timeout: float | None = None) -> jobs_pb2.Job:
        request = eval_pb2.CancelEvalJobRequest(benchmark_id=benchmark_id, job_id=job_id)
        return await self._transport.unary(self._stub.CancelEvalJob, request, timeout)

    async def job_result(
        self, benchmark_id: str, job_id: str, *, timeout: float | None = None
    ) -> eval_pb2.GetEvalJobResultResponse:
        request = eval_pb2.GetEvalJobResultRequest(benchmark_id=benchmark_id, job_id=job_id)
        return await self._transport.unary(self._stub.GetEvalJobResult, request, timeout)

    def iter_jobs(
        self, benchmark_id: str, *, page_size: int = 0, timeout: float | None = None
    ) -> AsyncIterator[jobs_pb2.Job]:
        """The benchmark's jobs, newest first, page after page."""
        request = eval_pb2.ListEvalJobsRequest(benchmark_id=benchmark_id, page_size=page_size)
        return self._transport.pages(self._stub.ListEvalJobs, request, "jobs", timeout)

    async def list_jobs(self, benchmark_id: str, *, timeout: float | None = None) -> list[jobs_pb2.Job]:
        return [job async for job in self.iter_jobs(benchmark_id, timeout=timeout)]

    async def evaluate_rows(
        self,
        benchmark_id: str,
        rows: Sequence[Mapping[str, Any]],
        model: str | None = None,
        *,
        scoring_functions: Sequence[str] = (),
        timeout: float | None = None,
        **candidate: Any,
    ) -> eval_pb2.EvaluateRowsResponse:
        request = evaluate_rows_request(benchmark_id, rows, model, scoring_functions, **candidate)
        return await self._transport.unary(self._stub.EvaluateRows, request, timeout)
