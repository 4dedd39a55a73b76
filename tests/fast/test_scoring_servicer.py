"""ScoringService.Score in-process, calling a fake gateway (a registry that knows one scoring function) through the
real GatewayClient: the servicer's logic, the gateway call and the error passed back, without a mesh."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2

from llama.common.v1 import resources_pb2 as res
from llama.datasetio.v1 import datasetio_pb2, datasetio_pb2_grpc
from llama.registry.v1 import registry_pb2_grpc
from llama.scoring.v1 import scoring_pb2, scoring_pb2_grpc
from llama_mesh.runtime.errors import NotFound
from llama_mesh.runtime.gateway_client import GatewayClient
from services.scoring.providers import ScoringProviders
from services.scoring.providers.basic import BasicConfig, BasicScoring
from services.scoring.rows_scoring import RowsScorer
from services.scoring.servicer import MAX_DATASET_ROWS, ScoringServicer
from tests.fast.harness import connected, serving

EQUALITY = res.ScoringFunction(
    identifier="basic::equality",
    provider_id="basic",
    params=res.ScoringFunctionParams(
        type=res.SCORING_FUNCTION_TYPE_BASIC, aggregation_functions=[res.AGGREGATION_FUNCTION_ACCURACY]
    ),
)
IFEVAL = res.ScoringFunction(
    identifier="basic::ifeval",
    provider_id="basic",
    params=res.ScoringFunctionParams(type=res.SCORING_FUNCTION_TYPE_BASIC),
)
REGISTERED = {function.identifier: function for function in (EQUALITY, IFEVAL)}


class FakeRegistry(registry_pb2_grpc.RegistryServiceServicer):
    """The gateway's registry, as far as scoring uses it; records the deadline each call came with."""

    def __init__(self) -> None:
        self.deadlines: list[float | None] = []

    async def GetScoringFunction(self, request, context):  # noqa: N802 - gRPC method
        self.deadlines.append(context.time_remaining())
        if request.scoring_function_id not in REGISTERED:
            raise NotFound(
                f"scoring function {request.scoring_function_id!r} is not registered", reason="RESOURCE_NOT_FOUND"
            )
        return REGISTERED[request.scoring_function_id]


def _row(generated: str, expected: str) -> struct_pb2.Struct:
    row = struct_pb2.Struct()
    row.update({"generated_answer": generated, "expected_answer": expected})
    return row


@asynccontextmanager
async def _basic_scoring(
    registry: FakeRegistry | None = None, datasetio: datasetio_pb2_grpc.DatasetIOServiceServicer | None = None
) -> AsyncIterator[scoring_pb2_grpc.ScoringServiceStub]:
    """A scoring service with the basic provider, in front of a fake gateway's registry (and datasetio)."""
    fake = registry or FakeRegistry()
    gateway_servicers: list[tuple[Callable[[Any, grpc.aio.Server], None], Any]] = [
        (registry_pb2_grpc.add_RegistryServiceServicer_to_server, fake)
    ]
    if datasetio is not None:
        gateway_servicers.append((datasetio_pb2_grpc.add_DatasetIOServiceServicer_to_server, datasetio))
    async with serving(*gateway_servicers) as gateway_address:
        gateway = GatewayClient(gateway_address)
        providers = ScoringProviders({"basic": BasicScoring("basic", BasicConfig())})
        servicer = ScoringServicer(RowsScorer(providers, gateway), gateway)
        async with connected((scoring_pb2_grpc.add_ScoringServiceServicer_to_server, servicer)) as channel:
            yield scoring_pb2_grpc.ScoringServiceStub(channel)
        await gateway.close()


async def test_score_through_a_fake_gateway() -> None:
    registry = FakeRegistry()
    async with _basic_scoring(registry) as stub:
        rows = [_row("Paris", "Paris"), _row("Lyon", "Paris")]
        request = scoring_pb2.ScoreRequest(input_rows=rows)
        request.scoring_functions["basic::equality"].CopyFrom(res.ScoringFunctionParams())
        reply = await stub.Score(request, timeout=30)
        result = reply.results["basic::equality"]
        assert [row["score"] for row in result.score_rows] == [1.0, 0.0]
        assert result.aggregated_results["accuracy"]["accuracy"] == 0.5

        unknown = scoring_pb2.ScoreRequest(input_rows=rows)
        unknown.scoring_functions["no::such"].CopyFrom(res.ScoringFunctionParams())
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Score(unknown, timeout=30)
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND  # the registry's answer, passed on
        assert "no::such" in refused.value.details()
    # The served call's 30 s deadline passed on (gRPC rounds it on the wire), not the client's 600 s default.
    assert registry.deadlines and all(0 < d < 60 for d in registry.deadlines)


@pytest.mark.parametrize(
    ("ids", "kwargs"),
    [
        (["punctuation:no_comma"], ["not an object"]),  # a kwargs entry that is not an object
        (["punctuation:no_comma"], [5]),
        (5, {}),  # instruction_id_list that is not a list
    ],
)
async def test_ifeval_rows_of_the_wrong_shape_are_invalid_argument_naming_the_row(ids: object, kwargs: object) -> None:
    async with _basic_scoring() as stub:
        row = struct_pb2.Struct()
        row.update({"instruction_id_list": ids, "kwargs": kwargs, "generated_answer": "fine"})
        request = scoring_pb2.ScoreRequest(input_rows=[row])
        request.scoring_functions["basic::ifeval"].CopyFrom(res.ScoringFunctionParams())
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Score(request, timeout=30)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.value.details()
        assert "input row 0" in refused.value.details()


@pytest.mark.parametrize("number", [float("nan"), float("inf"), -float("inf")])
async def test_a_row_holding_nan_or_infinity_is_invalid_argument_naming_it(number: float) -> None:
    async with _basic_scoring() as stub:
        row = struct_pb2.Struct()
        row.update({"generated_answer": "1", "expected_answer": "1", "extra": {"n": [number]}})
        request = scoring_pb2.ScoreRequest(input_rows=[_row("a", "a"), row])
        request.scoring_functions["basic::equality"].CopyFrom(res.ScoringFunctionParams())
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Score(request, timeout=30)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.value.details()
        assert refused.value.details().startswith("input_rows[1]: holds NaN or Infinity")


DATASET = res.Dataset(identifier="answers", provider_id="localfs")


class DatasetRegistry(FakeRegistry):
    async def GetDataset(self, request, context):  # noqa: N802 - gRPC method
        return DATASET


class PagedRows(datasetio_pb2_grpc.DatasetIOServiceServicer):
    """A dataset of `size` rows, paged as datasetio pages (at most 1000 a call); counts the rows it sent."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.sent = 0

    async def IterRows(self, request, context):  # noqa: N802 - gRPC method
        end = min(self.size, request.start_index + min(request.limit or 100, 1000))
        reply = datasetio_pb2.IterRowsResponse(rows=[_row("a", "a")] * (end - request.start_index))
        if end < self.size:
            reply.next_start_index = end
        self.sent += len(reply.rows)
        return reply


@pytest.mark.parametrize("extra", [1, 100_000])
async def test_score_batch_refuses_a_dataset_past_its_cap_while_paging(extra: int) -> None:
    # every row of any dataset was read into memory before scoring
    rows = PagedRows(MAX_DATASET_ROWS + extra)
    async with _basic_scoring(DatasetRegistry(), rows) as stub:
        request = scoring_pb2.ScoreBatchRequest(dataset_id=DATASET.identifier)
        request.scoring_functions["basic::equality"].CopyFrom(res.ScoringFunctionParams())
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ScoreBatch(request, timeout=60)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert refused.value.details().startswith(f"dataset 'answers' has more than {MAX_DATASET_ROWS} rows")
        assert rows.sent == MAX_DATASET_ROWS + 1  # no page past the first row too many

        rows.size, rows.sent = MAX_DATASET_ROWS, 0
        reply = await stub.ScoreBatch(request, timeout=60)
    assert len(reply.results["basic::equality"].score_rows) == MAX_DATASET_ROWS == rows.sent
