"""Synthetic data generation in the default distribution, through the gateway with the real SmolLM2: the same seed
gives the same data, the kept rows are the ones the scores and the filter select, rows reach a dataset, progress
streams, the Python client and the CLI work, and bad input is refused before any generation. Model work stays tiny
(two dialogs, three candidates, a few tokens)."""

from __future__ import annotations

import asyncio
import json
import math
import shlex
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format, struct_pb2

from llama.common.v1 import resources_pb2 as res
from llama.common.v1 import sampling_pb2
from llama.datasetio.v1 import datasetio_pb2, datasetio_pb2_grpc
from llama.inference.v1 import inference_pb2, inference_pb2_grpc
from llama.registry.v1 import registry_pb2
from llama.synthetic_data_generation.v1 import synthetic_data_generation_pb2 as pb
from llama.synthetic_data_generation.v1 import synthetic_data_generation_pb2_grpc
from llama_mesh.client import AsyncLlamaMeshClient, LlamaMeshClient
from llama_mesh.launcher import LocalMesh
from tests.mesh.helpers import CHAT_MODEL, expect_error, reason_and_field, run_cli, user

DOCS = Path(__file__).resolve().parents[2] / "docs" / "synthetic_data.md"
DIALOGS = [
    pb.Dialog(messages=[user("Name one colour of the sky.")], expected_answer="blue"),
    pb.Dialog(messages=[user("Say hello.")], expected_answer="hello"),
]
MAX_TOKENS = 8


@pytest.fixture(scope="module")
def sdg(gateway: grpc.Channel) -> synthetic_data_generation_pb2_grpc.SyntheticDataGenerationServiceStub:
    return synthetic_data_generation_pb2_grpc.SyntheticDataGenerationServiceStub(gateway)


@pytest.fixture(scope="module")
def datasetio(gateway: grpc.Channel) -> datasetio_pb2_grpc.DatasetIOServiceStub:
    return datasetio_pb2_grpc.DatasetIOServiceStub(gateway)


def request(**fields: object) -> pb.SynthesizeDataRequest:
    values: dict[str, object] = {
        "dialogs": DIALOGS,
        "model": CHAT_MODEL,
        "num_candidates": 3,
        "seed": 11,
        "sampling_params": sampling_pb2.SamplingParams(max_tokens=MAX_TOKENS),
    }
    values.update(fields)
    return pb.SynthesizeDataRequest(**values)


INDEX_COLUMNS = ("dialog_index", "candidate_index", "seed", "chosen_candidate_index", "rejected_candidate_index")


def dicts(structs) -> list[dict]:
    """Rows as dicts, with the index columns as ints (a Struct holds every number as a double)."""
    rows = [json_format.MessageToDict(item) for item in structs]
    return [{key: int(value) if key in INDEX_COLUMNS else value for key, value in row.items()} for row in rows]


def struct(row: dict) -> struct_pb2.Struct:
    value = struct_pb2.Struct()
    value.update(row)
    return value


@pytest.fixture(scope="module")
def top_k_reply(sdg) -> pb.SynthesizeDataResponse:
    return sdg.SynthesizeData(request(filtering_function=pb.FILTERING_FUNCTION_TOP_K, k=2), timeout=600)


def test_the_same_seed_gives_the_same_data(sdg, top_k_reply) -> None:
    again = sdg.SynthesizeData(request(filtering_function=pb.FILTERING_FUNCTION_TOP_K, k=2), timeout=600)
    assert dicts(again.candidates) == dicts(top_k_reply.candidates)
    assert dicts(again.synthetic_data) == dicts(top_k_reply.synthetic_data)
    assert dicts(again.preference_pairs) == dicts(top_k_reply.preference_pairs)
    texts = [row["response"] for row in dicts(top_k_reply.candidates)]
    assert len(texts) == 6 and all(texts)
    assert len(set(texts)) > 1  # sampled with a seed per candidate, not one answer six times
    other = sdg.SynthesizeData(request(seed=12, dialogs=DIALOGS[:1], num_candidates=1), timeout=600)
    assert dicts(other.candidates)[0]["seed"] != dicts(top_k_reply.candidates)[0]["seed"]


def test_the_kept_rows_are_the_best_two_by_judge_score(top_k_reply) -> None:
    candidates = dicts(top_k_reply.candidates)
    assert all(isinstance(row["score"], float) for row in candidates)  # yes/no logprobs of the judge (SmolLM2)
    expected = []
    for dialog_index in (0, 1):
        group = [row for row in candidates if row["dialog_index"] == dialog_index]
        best = sorted(group, key=lambda row: (-row["score"], row["candidate_index"]))
        expected += sorted((row["dialog_index"], row["candidate_index"]) for row in best[:2])
    kept = [(row["dialog_index"], row["candidate_index"]) for row in dicts(top_k_reply.synthetic_data)]
    assert kept == expected
    assert [(row["dialog_index"], row["candidate_index"]) for row in candidates if row["kept"]] == expected
    for row in dicts(top_k_reply.synthetic_data):
        source = next(
            c
            for c in candidates
            if (c["dialog_index"], c["candidate_index"]) == (row["dialog_index"], row["candidate_index"])
        )
        assert row["response"] == source["response"] and row["score"] == source["score"]
        assert (
            row["messages"]
            == row["dialog"]
            == [
                {"role": "user", "content": DIALOGS[row["dialog_index"]].messages[0].content.text},
                {"role": "assistant", "content": row["response"]},
            ]
        )
    stats = json_format.MessageToDict(top_k_reply.statistics)
    assert stats["seed"] == 11 and stats["num_dialogs"] == 2 and stats["num_candidates"] == 6
    assert stats["num_kept"] == 4 and stats["filter"] == {"function": "TOP_K", "k": 2}
    assert stats["score"]["count"] == 6 and 0 < stats["tokens"]["completion"] <= 6 * MAX_TOKENS
    assert stats["score"]["mean"] == pytest.approx(sum(row["score"] for row in candidates) / 6)


def test_preference_pairs_hold_the_best_kept_and_the_worst_candidate(top_k_reply) -> None:
    candidates = dicts(top_k_reply.candidates)
    pairs = {pair["dialog_index"]: pair for pair in dicts(top_k_reply.preference_pairs)}
    for dialog_index in (0, 1):
        group = [row for row in candidates if row["dialog_index"] == dialog_index]
        best, worst = max(row["score"] for row in group), min(row["score"] for row in group)
        if best == worst:
            assert dialog_index not in pairs
            continue
        pair = pairs[dialog_index]
        assert (pair["chosen_score"], pair["rejected_score"]) == (best, worst)
        assert pair["chosen"] == group[pair["chosen_candidate_index"]]["response"]
        assert pair["rejected"] == group[pair["rejected_candidate_index"]]["response"]
        assert pair["prompt"] == [{"role": "user", "content": DIALOGS[dialog_index].messages[0].content.text}]


def test_sigmoid_keeps_by_score_and_pairs_reach_a_dataset(sdg, registry, datasetio, top_k_reply) -> None:
    scores = [row["score"] for row in dicts(top_k_reply.candidates)]
    threshold = 1 / (1 + math.exp(-sorted(scores)[3]))  # the three best scores reach it
    pair_row = {"prompt": [{"role": "user", "content": "hi"}], "chosen": "hello", "rejected": "go away"}
    dataset = res.Dataset(identifier="sdg/pairs", source=res.DataSource(rows=res.RowsSource(rows=[struct(pair_row)])))
    registry.RegisterDataset(registry_pb2.RegisterDatasetRequest(dataset=dataset), timeout=30)
    reply = sdg.SynthesizeData(
        request(
            filtering_function=pb.FILTERING_FUNCTION_SIGMOID,
            threshold=threshold,
            append_to_dataset_id="sdg/pairs",
            append_format=pb.OUTPUT_FORMAT_PREFERENCE_PAIRS,
        ),
        timeout=600,
    )
    kept = [row["score"] for row in dicts(reply.synthetic_data)]
    assert [row["score"] for row in dicts(reply.candidates)] == scores  # the same seed: the same candidates
    assert sorted(kept) == sorted(s for s in scores if 1 / (1 + math.exp(-s)) >= threshold - 1e-6)
    assert len(kept) >= 3
    page = datasetio.IterRows(datasetio_pb2.IterRowsRequest(dataset_id="sdg/pairs", limit=100), timeout=30)
    assert reply.preference_pairs
    assert dicts(page.rows) == [pair_row, *dicts(reply.preference_pairs)]


def test_scoring_function_rows_reach_the_dataset(sdg, registry, datasetio) -> None:
    sft_row = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    dataset = res.Dataset(
        identifier="sdg/subset-of",
        purpose=res.DATASET_PURPOSE_POST_TRAINING_MESSAGES,
        source=res.DataSource(rows=res.RowsSource(rows=[struct(sft_row)])),
    )
    registry.RegisterDataset(registry_pb2.RegisterDatasetRequest(dataset=dataset), timeout=30)
    reply = sdg.SynthesizeData(
        request(
            filtering_function=pb.FILTERING_FUNCTION_NONE,
            scorer=pb.Scorer(scoring_function=pb.ScoringFunctionScorer(scoring_function_id="basic::subset_of")),
            append_to_dataset_id="sdg/subset-of",
        ),
        timeout=600,
    )
    candidates = dicts(reply.candidates)
    for row in candidates:  # 1 when the reference answer occurs in the candidate, else 0
        reference = DIALOGS[row["dialog_index"]].expected_answer
        assert row["score"] == (1.0 if reference in row["response"] else 0.0), row
    stats = json_format.MessageToDict(reply.statistics)
    assert stats["appended_rows"] == 6 and stats["dataset_total_rows"] == 7
    page = datasetio.IterRows(datasetio_pb2.IterRowsRequest(dataset_id="sdg/subset-of", limit=100), timeout=30)
    assert dicts(page.rows)[1:] == dicts(reply.synthetic_data)


def test_progress_streams_before_the_result_through_both_clients(local_mesh: LocalMesh) -> None:
    options = {
        "model": CHAT_MODEL,
        "num_candidates": 2,
        "seed": 5,
        "max_tokens": MAX_TOKENS,
        "filtering_function": "top_k",
        "k": 1,
    }
    with LlamaMeshClient(local_mesh.gateway_address, timeout=600) as client:
        events = list(client.synthetic_data.stream(["Say hello."], **options))
        unary = client.synthetic_data.synthesize(["Say hello."], **options)
    assert [event.WhichOneof("event") for event in events][-1] == "result"
    progress = [(e.progress.unit, e.progress.done, e.progress.total) for e in events[:-1]]
    assert progress[-1] == ("scored", 2, 2) and ("generated", 2, 2) in progress
    assert all(done <= total == 2 for _, done, total in progress)
    assert dicts(events[-1].result.candidates) == dicts(unary.candidates)

    async def run_async() -> pb.SynthesizeDataResponse:
        async with AsyncLlamaMeshClient(local_mesh.gateway_address, timeout=600) as client:
            return await client.synthetic_data.synthesize(["Say hello."], **options)

    assert dicts(asyncio.run(run_async()).synthetic_data) == dicts(unary.synthetic_data)


@pytest.mark.parametrize(
    ("fields", "code", "reason", "field", "words"),
    [
        ({"dialogs": []}, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT", "dialogs", "at least one dialog"),
        ({"model": "no-such-model"}, grpc.StatusCode.NOT_FOUND, "RESOURCE_NOT_FOUND", "model", "no-such-model"),
        (
            {"filtering_function": pb.FILTERING_FUNCTION_TOP_K, "k": 4},
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_ARGUMENT",
            "k",
            "[1, num_candidates=3]",
        ),
        (
            {"filtering_function": pb.FILTERING_FUNCTION_TOP_K},
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_ARGUMENT",
            "k",
            "required by TOP_K",
        ),
        (
            {"filtering_function": pb.FILTERING_FUNCTION_TOP_P, "p": 0.0},
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_ARGUMENT",
            "p",
            "(0, 1]",
        ),
        (
            {"filtering_function": pb.FILTERING_FUNCTION_TOP_P, "p": 1.5},
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_ARGUMENT",
            "p",
            "(0, 1]",
        ),
        (
            {"filtering_function": pb.FILTERING_FUNCTION_SIGMOID},
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_ARGUMENT",
            "threshold",
            "required by SIGMOID",
        ),
        ({"num_candidates": 65}, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT", "num_candidates", "[1, 64]"),
        (
            {"dialogs": DIALOGS * 300, "num_candidates": 2},
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_ARGUMENT",
            "num_candidates",
            "at most 1024 candidates per request",
        ),
        (
            {"append_to_dataset_id": "no-such-dataset"},
            grpc.StatusCode.NOT_FOUND,
            "RESOURCE_NOT_FOUND",
            "append_to_dataset_id",
            "no-such-dataset",
        ),
        (
            {
                "dialogs": [pb.Dialog(messages=[user("hi")])],
                "scorer": pb.Scorer(scoring_function=pb.ScoringFunctionScorer(scoring_function_id="basic::equality")),
            },
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_ARGUMENT",
            "dialogs[0].expected_answer",
            "basic::equality",
        ),
        (
            {"scorer": pb.Scorer(judge_logprobs=pb.JudgeLogprobsScorer(prompt_template="Rate {answer}"))},
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_ARGUMENT",
            "scorer.judge_logprobs.prompt_template",
            "{answer}",
        ),
        (  # was INTERNAL once every candidate had been generated (ValueError: Unknown format code 'd')
            {"scorer": pb.Scorer(judge_logprobs=pb.JudgeLogprobsScorer(prompt_template="Rate {generated_answer:d}"))},
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_ARGUMENT",
            "scorer.judge_logprobs.prompt_template",
            "no format spec",
        ),
    ],
)
def test_bad_input_is_refused_before_generating(sdg, fields, code, reason, field, words) -> None:
    error = expect_error(lambda: sdg.SynthesizeData(request(**fields), timeout=60), code)
    assert reason_and_field(error) == (reason, field)
    assert words in error.details()


def test_a_deadline_too_short_ends_the_work_and_frees_the_engine(sdg, gateway) -> None:
    long_run = request(num_candidates=8, sampling_params=sampling_pb2.SamplingParams(max_tokens=200))
    expect_error(lambda: sdg.SynthesizeData(long_run, timeout=3), grpc.StatusCode.DEADLINE_EXCEEDED)
    inference = inference_pb2_grpc.InferenceServiceStub(gateway)
    deadline = time.monotonic() + 120
    while True:  # the candidates still queued or running were cancelled with the call
        status = inference.GetEngineStatus(inference_pb2.GetEngineStatusRequest(model_id=CHAT_MODEL), timeout=30)
        if status.running_requests == 0 and status.waiting_requests == 0:
            break
        assert time.monotonic() < deadline, f"the engine is still busy: {status}"
        time.sleep(0.2)


def test_the_docs_commands_run(local_mesh: LocalMesh, tmp_path: Path) -> None:
    text = DOCS.read_text().split("## Generate → dataset → fine-tune", 1)[0]  # that section: the loop's own test
    (tmp_path / "dialogs.jsonl").write_text(text.split("```jsonl\n", 1)[1].split("```", 1)[0])
    commands = [
        line
        for block in text.split("```bash\n")[1:]
        for line in block.split("```", 1)[0].splitlines()
        if line.startswith("llama-mesh ")
    ]
    assert any(" sdg generate " in command for command in commands)
    for command in commands:
        args = [arg.replace("dialogs.jsonl", str(tmp_path / "dialogs.jsonl")) for arg in shlex.split(command)[1:]]
        result = run_cli(local_mesh, *args, timeout=600, columns=200)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    listed = run_cli(local_mesh, "datasets", "rows", "sft-data", "--all")
    rows = [json.loads(line) for line in listed.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 2 + 4 and all("messages" in row for row in rows)  # two dialogs, then two kept rows each
    snippet = text.split("```python\n", 1)[1].split("```", 1)[0].replace("127.0.0.1:50051", local_mesh.gateway_address)
    ran = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr
    assert "2 rows kept," in ran.stdout
