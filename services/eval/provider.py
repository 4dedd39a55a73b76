"""The provider interface of the eval service: an `EvalProvider` runs benchmarks as jobs and evaluates rows.

The servicer resolves the benchmark the gateway named and hands the call to the provider of that benchmark;
`providers/meta_reference.py` is the one implementation (generate with the candidate through the gateway, score with
the scoring API). Another provider implements these methods and adds its factory to `providers.PROVIDER_TYPES`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from llama.common.v1 import jobs_pb2, resources_pb2
from llama.eval.v1 import eval_pb2


class EvalProvider(ABC):
    provider_id: str

    async def start(self) -> None:
        """Called once the service's event loop runs (reopen stored jobs, ...)."""
        return None

    @abstractmethod
    async def prepare(self, benchmark: resources_pb2.Benchmark) -> resources_pb2.Benchmark:
        """Check a benchmark before the registry stores it; the benchmark as it should be stored."""

    @abstractmethod
    async def run_eval(
        self, benchmark: resources_pb2.Benchmark, request: eval_pb2.RunEvalRequest, time_left: float | None
    ) -> jobs_pb2.Job:
        """Start a job over the benchmark's dataset and return it at once."""

    @abstractmethod
    async def get_job(self, benchmark_id: str, job_id: str) -> jobs_pb2.Job: ...

    @abstractmethod
    async def cancel_job(self, benchmark_id: str, job_id: str) -> jobs_pb2.Job: ...

    @abstractmethod
    async def job_result(self, benchmark_id: str, job_id: str) -> eval_pb2.GetEvalJobResultResponse: ...

    @abstractmethod
    async def list_jobs(self, request: eval_pb2.ListEvalJobsRequest) -> eval_pb2.ListEvalJobsResponse:
        """One page of the benchmark's jobs, newest first (llama_mesh.runtime.paging)."""

    @abstractmethod
    async def evaluate_rows(
        self, benchmark: resources_pb2.Benchmark, request: eval_pb2.EvaluateRowsRequest, time_left: float | None
    ) -> eval_pb2.EvaluateRowsResponse:
        """Generate and score the given rows within the call."""

    async def close(self) -> None:
        """Stop running jobs and free what the provider holds."""
        return None
