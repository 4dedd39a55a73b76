"""inline::meta-reference: evaluates benchmarks with the candidate's answers and the scoring API, as jobs or inline.

It checks benchmarks when they are registered (their scoring functions exist, their prompt format is known), and
every eval call before work starts (the candidate is a registered LLM, the first row has the prompt's column), so
that mistakes come back as errors of the call rather than as failed jobs.
"""

from __future__ import annotations

import asyncio

import grpc

from llama.common.v1 import jobs_pb2, resources_pb2
from llama.eval.v1 import eval_pb2
from llama.registry.v1 import registry_pb2
from llama_mesh.runtime import paging
from llama_mesh.runtime.config import ProviderConfig, RunConfig
from llama_mesh.runtime.errors import InvalidArgument, NotFound, RemoteError
from llama_mesh.runtime.gateway_client import GatewayClient
from services.eval.candidates import check_candidate, open_candidate
from services.eval.config import EvalProviderConfig
from services.eval.evaluation import (
    check_prompt,
    check_row_count,
    dataset_head,
    generate,
    generation_structs,
    plan,
    prompt_format_of,
    score,
    struct_rows,
)
from services.eval.job_store import JobStore
from services.eval.jobs import EvalJobs, job_message
from services.eval.provider import EvalProvider


class MetaReferenceEval(EvalProvider):
    def __init__(self, provider_id: str, config: EvalProviderConfig, run: RunConfig) -> None:
        self.provider_id = provider_id
        self._config = config
        self._db_path = run.data_path("eval", f"{provider_id}-jobs.db")
        self._gateway = GatewayClient(run.gateway.address)
        self._store: JobStore | None = None
        self._jobs: EvalJobs | None = None

    async def start(self) -> None:
        self._store = await asyncio.to_thread(JobStore, self._db_path)
        self._jobs = EvalJobs(self.provider_id, self._config, self._gateway, self._store)
        await self._jobs.recover()

    @property
    def jobs(self) -> EvalJobs:
        assert self._jobs is not None, "start() first"
        return self._jobs

    async def prepare(self, benchmark: resources_pb2.Benchmark) -> resources_pb2.Benchmark:
        prompt_format_of(benchmark)
        if not benchmark.scoring_functions:
            raise InvalidArgument("benchmark.scoring_functions", "name at least one registered scoring function")
        for name in benchmark.scoring_functions:
            try:
                lookup = registry_pb2.GetScoringFunctionRequest(scoring_function_id=name)
                await self._gateway.call(self._gateway.registry.GetScoringFunction, lookup)
            except RemoteError as error:
                if error.code == grpc.StatusCode.NOT_FOUND:
                    raise NotFound(
                        f"benchmark {benchmark.identifier!r} names scoring function {name!r}, which is "
                        "not registered (list them with `llama-mesh scoring-functions list`)",
                        reason="SCORING_FUNCTION_NOT_FOUND",
                        scoring_function_id=name,
                    ) from error
                raise
        return benchmark

    async def run_eval(
        self, benchmark: resources_pb2.Benchmark, request: eval_pb2.RunEvalRequest, time_left: float | None
    ) -> jobs_pb2.Job:
        """Checks the run (the candidate, the first row's prompt) within the call, then starts the job."""
        eval_plan = plan(benchmark, request.benchmark_config)
        candidate = await check_candidate(self._gateway, request.benchmark_config)
        probe_time = (
            min(time_left, self._config.generation_timeout_s) if time_left else self._config.generation_timeout_s
        )
        first, total = await dataset_head(self._gateway, benchmark.dataset_id, probe_time)
        if first is not None:
            check_prompt(first, 0, eval_plan.prompt_format)
        count = min(eval_plan.num_examples, total) if eval_plan.num_examples else total
        check_row_count(count, "benchmark_config.num_examples", f"benchmark {benchmark.identifier!r} would evaluate")
        record = await self.jobs.submit(request, eval_plan, candidate)
        return job_message(record)

    async def get_job(self, benchmark_id: str, job_id: str) -> jobs_pb2.Job:
        return job_message(await self.jobs.job(benchmark_id, job_id))

    async def cancel_job(self, benchmark_id: str, job_id: str) -> jobs_pb2.Job:
        return job_message(await self.jobs.cancel(benchmark_id, job_id))

    async def job_result(self, benchmark_id: str, job_id: str) -> eval_pb2.GetEvalJobResultResponse:
        return await self.jobs.result(benchmark_id, job_id)

    async def list_jobs(self, request: eval_pb2.ListEvalJobsRequest) -> eval_pb2.ListEvalJobsResponse:
        size = paging.page_size(request.page_size)
        listing = f"eval_jobs:{request.benchmark_id}"
        offset = paging.read_offset(request.page_token, listing)
        records = await self.jobs.page(request.benchmark_id, offset, size + 1)
        token = paging.make_token(listing, offset + size) if len(records) > size else ""
        return eval_pb2.ListEvalJobsResponse(
            jobs=[job_message(record) for record in records[:size]], next_page_token=token
        )

    async def evaluate_rows(
        self, benchmark: resources_pb2.Benchmark, request: eval_pb2.EvaluateRowsRequest, time_left: float | None
    ) -> eval_pb2.EvaluateRowsResponse:
        if not request.input_rows:
            raise InvalidArgument("input_rows", "give at least one row")
        check_row_count(len(request.input_rows), "input_rows", "the request gives")
        eval_plan = plan(benchmark, request.benchmark_config, list(request.scoring_functions))
        await check_candidate(self._gateway, request.benchmark_config)
        rows = struct_rows(list(request.input_rows), "input_rows")
        for index, row in enumerate(rows):
            check_prompt(row, index, eval_plan.prompt_format)
        candidate = open_candidate(self._gateway, request.benchmark_config.eval_candidate)
        try:
            generations = await generate(candidate, rows, eval_plan.prompt_format, time_left)
        finally:
            await candidate.close()
        scores = await score(self._gateway, rows, generations, eval_plan.scoring, time_left)
        return eval_pb2.EvaluateRowsResponse(generations=generation_structs(generations), scores=scores)

    async def close(self) -> None:
        if self._jobs is not None:
            await self._jobs.close()
        await self._gateway.close()
        if self._store is not None:
            await asyncio.to_thread(self._store.close)


def meta_reference(provider: ProviderConfig, run: RunConfig) -> MetaReferenceEval:
    return MetaReferenceEval(provider.provider_id, EvalProviderConfig.model_validate(provider.config), run)
