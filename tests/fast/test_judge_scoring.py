"""ScoringService.Score with an llm-as-judge function in-process, against a fake gateway (a registry that knows the
function and its judge, a judge whose reply the test sets): what a judge's reply or a function's metadata can make of
a call."""

from __future__ import annotations

import math

import grpc
import pytest
from google.protobuf import struct_pb2

from llama.common.v1 import resources_pb2 as res
from llama.inference.v1 import inference_pb2, inference_pb2_grpc
from llama.registry.v1 import registry_pb2_grpc
from llama.scoring.v1 import scoring_pb2, scoring_pb2_grpc
from llama_mesh.runtime.errors import InvalidArgument
from llama_mesh.runtime.gateway_client import GatewayClient
from services.scoring.providers import ScoringProviders
from services.scoring.providers.llm_as_judge import JudgeConfig, JudgeScoring
from services.scoring.rows_scoring import RowsScorer
from services.scoring.servicer import ScoringServicer
from tests.fast.harness import connected, serving


def _judge_function(**metadata: object) -> res.ScoringFunction:
    function = res.ScoringFunction(
        identifier="judge",
        provider_id="llm-as-judge",
        params=res.ScoringFunctionParams(
            type=res.SCORING_FUNCTION_TYPE_LLM_AS_JUDGE,
            judge_model="judge-llm",
            aggregation_functions=[res.AGGREGATION_FUNCTION_AVERAGE],
        ),
    )
    function.metadata.update(metadata)
    return function


class FakeGateway(registry_pb2_grpc.RegistryServiceServicer, inference_pb2_grpc.InferenceServiceServicer):
    def __init__(self, function: res.ScoringFunction, replies: list[str]) -> None:
        self.function = function
        self.replies = replies

    async def GetScoringFunction(self, request, context):  # noqa: N802 - gRPC method
        return self.function

    async def GetModel(self, request, context):  # noqa: N802 - gRPC method
        return res.Model(identifier=request.model_id, model_type=res.MODEL_TYPE_LLM)

    async def ChatCompletion(self, request, context):  # noqa: N802 - gRPC method
        reply = inference_pb2.ChatCompletionResponse()
        reply.completion_message.content.text = self.replies.pop(0)
        return reply


async def _score(gateway_servicer: FakeGateway, rows: int) -> scoring_pb2.ScoreResponse:
    async with serving(
        (registry_pb2_grpc.add_RegistryServiceServicer_to_server, gateway_servicer),
        (inference_pb2_grpc.add_InferenceServiceServicer_to_server, gateway_servicer),
    ) as gateway_address:
        gateway = GatewayClient(gateway_address)
        judge = JudgeScoring("llm-as-judge", JudgeConfig(max_concurrency=1), gateway)
        servicer = ScoringServicer(RowsScorer(ScoringProviders({"llm-as-judge": judge}), gateway), gateway)
        try:
            async with connected((scoring_pb2_grpc.add_ScoringServiceServicer_to_server, servicer)) as channel:
                stub = scoring_pb2_grpc.ScoringServiceStub(channel)
                input_rows = []
                for index in range(rows):
                    row = struct_pb2.Struct()
                    row.update({"input_query": f"q{index}", "generated_answer": "a", "expected_answer": "a"})
                    input_rows.append(row)
                request = scoring_pb2.ScoreRequest(input_rows=input_rows)
                request.scoring_functions["judge"].CopyFrom(res.ScoringFunctionParams())
                return await stub.Score(request, timeout=30)
        finally:
            await gateway.close()


async def test_a_judge_score_that_is_no_finite_number_is_a_recorded_failure() -> None:
    """A reply whose score overflows a float (or reads as nan / inf) is no score: the row is a failure, the aggregate
    stays a number (it used to become Infinity, which no JSON client can read)."""
    replies = ["Score: 1", "Score: " + "9" * 400]
    reply = await _score(FakeGateway(_judge_function(), replies), rows=2)
    result = reply.results["judge"]
    assert result.score_rows[0]["score"] == 1.0
    assert result.score_rows[1].fields["score"].WhichOneof("kind") == "null_value"
    assert "not a finite number" in result.score_rows[1]["error"]
    average = result.aggregated_results["average"]
    assert average["average"] == 1.0 and average["num_failed"] == 1
    assert all(math.isfinite(value) for value in (average["average"], average["num_failed"]))


@pytest.mark.parametrize("max_tokens", ["lots", 1e12, -3, 2.5])
async def test_a_judge_max_tokens_that_is_no_token_count_is_invalid_argument(max_tokens: object) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _score(FakeGateway(_judge_function(judge_max_tokens=max_tokens), ["Score: 1"]), rows=1)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.value.details()
    assert "judge_max_tokens" in refused.value.details()


async def test_registering_a_judge_whose_max_tokens_is_no_token_count_is_refused() -> None:
    judge = JudgeScoring("llm-as-judge", JudgeConfig(), GatewayClient("127.0.0.1:1"))  # refused before any call
    with pytest.raises(InvalidArgument) as refused:
        await judge.prepare(_judge_function(judge_max_tokens="lots"))
    assert refused.value.field == "scoring_function.metadata.judge_max_tokens"
    await judge.close()
