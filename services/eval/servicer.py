"""llama.eval.v1.EvalService: reads the benchmark the gateway resolved and hands the call to its provider."""

from __future__ import annotations

import grpc

from llama.common.v1 import resources_pb2
from llama.eval.v1 import eval_pb2_grpc
from llama_mesh.resources import resolved_resource
from llama_mesh.runtime.channels import remaining_timeout
from services.eval.provider import EvalProvider
from services.eval.providers import EvalProviders


class EvalServicer(eval_pb2_grpc.EvalServiceServicer):
    def __init__(self, providers: EvalProviders) -> None:
        self._providers = providers

    def _resolve(
        self, context: grpc.aio.ServicerContext, benchmark_id: str
    ) -> tuple[resources_pb2.Benchmark, EvalProvider]:
        benchmark = resolved_resource(context, resources_pb2.Benchmark, benchmark_id, "eval")
        return benchmark, self._providers.get(benchmark.provider_id)

    async def RunEval(self, request, context):  # noqa: N802, ANN001, ANN201 - gRPC method
        benchmark, provider = self._resolve(context, request.benchmark_id)
        return await provider.run_eval(benchmark, request, remaining_timeout(context))

    async def GetEvalJob(self, request, context):  # noqa: N802, ANN001, ANN201
        _, provider = self._resolve(context, request.benchmark_id)
        return await provider.get_job(request.benchmark_id, request.job_id)

    async def CancelEvalJob(self, request, context):  # noqa: N802, ANN001, ANN201
        _, provider = self._resolve(context, request.benchmark_id)
        return await provider.cancel_job(request.benchmark_id, request.job_id)

    async def GetEvalJobResult(self, request, context):  # noqa: N802, ANN001, ANN201
        _, provider = self._resolve(context, request.benchmark_id)
        return await provider.job_result(request.benchmark_id, request.job_id)

    async def ListEvalJobs(self, request, context):  # noqa: N802, ANN001, ANN201
        _, provider = self._resolve(context, request.benchmark_id)
        return await provider.list_jobs(request)

    async def EvaluateRows(self, request, context):  # noqa: N802, ANN001, ANN201
        benchmark, provider = self._resolve(context, request.benchmark_id)
        return await provider.evaluate_rows(benchmark, request, remaining_timeout(context))
