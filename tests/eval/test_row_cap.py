"""An evaluation takes no more rows than one scoring call does: more is refused before anything is generated (it
used to generate every row's answer, then fail when the scoring call refused the rows). The eval provider runs
in-process against a fake gateway (a registry that knows every model, a dataset of any size)."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import struct_pb2

from llama.common.v1 import resources_pb2 as res
from llama.datasetio.v1 import datasetio_pb2, datasetio_pb2_grpc
from llama.eval.v1 import eval_pb2
from llama.registry.v1 import registry_pb2_grpc
from llama_mesh.client.eval import benchmark_config
from llama_mesh.runtime.config import load_run_config
from llama_mesh.runtime.errors import InvalidArgument
from services.eval.evaluation import MAX_EVAL_ROWS
from services.eval.providers.meta_reference import meta_reference
from tests.fast.harness import serving

ROOT = Path(__file__).resolve().parents[2]


def _row(index: int) -> struct_pb2.Struct:
    row = struct_pb2.Struct()
    row.update({"input_query": f"{index}?", "expected_answer": "x"})
    return row


class Registry(registry_pb2_grpc.RegistryServiceServicer):
    async def GetModel(self, request, context):  # noqa: N802 - gRPC method
        return res.Model(identifier=request.model_id, model_type=res.MODEL_TYPE_LLM)


class BigDataset(datasetio_pb2_grpc.DatasetIOServiceServicer):
    async def IterRows(self, request, context):  # noqa: N802 - gRPC method
        total = MAX_EVAL_ROWS + 1
        end = min(total, request.start_index + request.limit)
        reply = datasetio_pb2.IterRowsResponse(
            rows=[_row(i) for i in range(request.start_index, end)], total_rows=total
        )
        if end < total:
            reply.next_start_index = end
        return reply


async def test_more_rows_than_one_scoring_call_takes_are_refused_before_generation(tmp_path: Path) -> None:
    async with serving(
        (registry_pb2_grpc.add_RegistryServiceServicer_to_server, Registry()),
        (datasetio_pb2_grpc.add_DatasetIOServiceServicer_to_server, BigDataset()),
    ) as gateway_address:
        run = load_run_config(
            ROOT / "distributions" / "open-benchmark" / "run.yaml",
            {"LLAMA_MESH_DATA_DIR": str(tmp_path), "LLAMA_MESH_GATEWAY_ADDRESS": gateway_address},
        )
        entry = run.service("eval").providers[0]
        provider = meta_reference(entry, run)
        await provider.start()
        try:
            benchmark = res.Benchmark(identifier="big", dataset_id="d", scoring_functions=["basic::equality"])
            for config, field in (
                (benchmark_config("m"), "benchmark_config.num_examples"),  # the whole dataset
                (benchmark_config("m", num_examples=MAX_EVAL_ROWS + 5), "benchmark_config.num_examples"),
            ):
                with pytest.raises(InvalidArgument) as refused:
                    await provider.run_eval(benchmark, eval_pb2.RunEvalRequest(benchmark_config=config), 30)
                assert refused.value.field == field and refused.value.reason == "TOO_MANY_ROWS"
                assert f"{MAX_EVAL_ROWS + 1} rows" in refused.value.message
            assert await provider.jobs.page("big", 0, 10) == []  # no job was started
            rows = eval_pb2.EvaluateRowsRequest(
                input_rows=[_row(i) for i in range(MAX_EVAL_ROWS + 1)], benchmark_config=benchmark_config("m")
            )
            with pytest.raises(InvalidArgument) as refused:
                await provider.evaluate_rows(benchmark, rows, 30)
            assert refused.value.field == "input_rows" and refused.value.reason == "TOO_MANY_ROWS"
        finally:
            await provider.close()
