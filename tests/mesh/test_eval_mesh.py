"""The eval service in the open-benchmark distribution, on the local files of the benchmarks' schema: jobs run to
completion with results written by the CLI, EvaluateRows, cancel, a restart, the concurrency limit and bad input."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import grpc
import pytest
from google.protobuf import json_format, struct_pb2

from llama.agents.v1 import agents_pb2, agents_pb2_grpc
from llama.common.v1 import jobs_pb2, resources_pb2
from llama.eval.v1 import eval_pb2, eval_pb2_grpc
from llama.inference.v1 import inference_pb2, inference_pb2_grpc
from llama.registry.v1 import registry_pb2, registry_pb2_grpc
from llama.scoring.v1 import scoring_pb2, scoring_pb2_grpc
from llama_mesh.client import AsyncLlamaMeshClient, InvalidArgumentError, LlamaMeshClient
from llama_mesh.client.conversions import to_dict
from llama_mesh.client.eval import FINAL_STATES, benchmark_config
from llama_mesh.launcher import REPO_ROOT, LocalMesh, isolated_env
from services.eval.row_prompt import row_messages
from tests.mesh.helpers import CHAT_MODEL, EMBEDDING_MODEL, expect_error, reason_and_field, run_cli, system

T = TypeVar("T")
BENCHMARK_FILES = REPO_ROOT / "tests" / "data" / "benchmarks"
MMLU = "meta-reference-mmlu-cot"
# The open-benchmark distribution's benchmarks, read from the small copies under tests/data.
BENCHMARK_ENV = {
    "LLAMA_MESH_BENCHMARK_DATA_DIR": str(BENCHMARK_FILES),
    "LLAMA_MESH_MMLU_COT_URI": str(BENCHMARK_FILES / "mmlu_cot.jsonl"),
    "LLAMA_MESH_GPQA_COT_URI": str(BENCHMARK_FILES / "gpqa_cot.jsonl"),
    "LLAMA_MESH_SIMPLEQA_URI": str(BENCHMARK_FILES / "simpleqa.jsonl"),
    "LLAMA_MESH_MMMU_URI": f"file://{BENCHMARK_FILES / 'mmmu.jsonl'}",
}
MULTIPLE_CHOICE = "basic::regex_parser_multiple_choice_answer"
# The services an eval needs; the rest of the distribution (safety, vector_io, tool_runtime, telemetry) is left out
# to spare the machine.
EVAL_SERVICES = {"gateway", "inference", "agents", "datasetio", "scoring", "eval"}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMesh]:
    root = tmp_path_factory.mktemp("open-benchmark")
    env = isolated_env(root / "data")
    env.update({"LLAMA_MESH_TRACE_EXPORTER": "none", "LLAMA_MESH_EVAL_MAX_CONCURRENT_JOBS": "1", **BENCHMARK_ENV})
    local = LocalMesh("open-benchmark", env=env, log_dir=root / "logs")
    local.start(only=EVAL_SERVICES)
    yield local
    local.stop()


@pytest.fixture(scope="module")
def channel(mesh: LocalMesh) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(mesh.gateway_address) as opened:
        yield opened


@pytest.fixture(scope="module")
def evals(channel: grpc.Channel) -> eval_pb2_grpc.EvalServiceStub:
    return eval_pb2_grpc.EvalServiceStub(channel)


@pytest.fixture(scope="module")
def registry(channel: grpc.Channel) -> registry_pb2_grpc.RegistryServiceStub:
    return registry_pb2_grpc.RegistryServiceStub(channel)


def _config(max_tokens: int, **options: object) -> eval_pb2.BenchmarkConfig:
    return benchmark_config(CHAT_MODEL, max_tokens=max_tokens, **options)  # type: ignore[arg-type]


def _start(evals: eval_pb2_grpc.EvalServiceStub, benchmark_id: str, config: eval_pb2.BenchmarkConfig) -> str:
    job = evals.RunEval(eval_pb2.RunEvalRequest(benchmark_id=benchmark_id, benchmark_config=config))
    assert job.status in (jobs_pb2.JOB_STATUS_QUEUED, jobs_pb2.JOB_STATUS_RUNNING)
    assert job.metadata["benchmark_id"] == benchmark_id
    return job.job_id


def _get(evals: eval_pb2_grpc.EvalServiceStub, benchmark_id: str, job_id: str) -> jobs_pb2.Job:
    return evals.GetEvalJob(eval_pb2.GetEvalJobRequest(benchmark_id=benchmark_id, job_id=job_id))


def _when(
    evals: eval_pb2_grpc.EvalServiceStub,
    benchmark_id: str,
    job_id: str,
    ready: Callable[[jobs_pb2.Job], object],
    limit: float = 600,
) -> jobs_pb2.Job:
    """The job once `ready` holds for it; fails when it ends (or the limit passes) first."""
    deadline = time.monotonic() + limit
    while True:
        job = _get(evals, benchmark_id, job_id)
        if ready(job) or job.status in FINAL_STATES or time.monotonic() > deadline:
            assert ready(job), f"job {job_id} is {jobs_pb2.JobStatus.Name(job.status)}: {job.error.message}"
            return job
        time.sleep(0.2)


def _wait(evals: eval_pb2_grpc.EvalServiceStub, benchmark_id: str, job_id: str, states: set[int]) -> jobs_pb2.Job:
    return _when(evals, benchmark_id, job_id, lambda job: job.status in states)


def _when_reachable(call: Callable[[], T], limit: float = 60) -> T:
    """The call's answer once the gateway reaches the service again (its channel backs off after a restart)."""
    deadline = time.monotonic() + limit
    while True:
        try:
            return call()
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                raise
        time.sleep(0.5)


def _evaluate_rows(
    evals: eval_pb2_grpc.EvalServiceStub, rows: list[dict], config: eval_pb2.BenchmarkConfig
) -> eval_pb2.EvaluateRowsResponse:
    request = eval_pb2.EvaluateRowsRequest(
        benchmark_id=MMLU,
        input_rows=[json_format.ParseDict(row, struct_pb2.Struct()) for row in rows],
        benchmark_config=config,
    )
    return evals.EvaluateRows(request, timeout=300)


def _file_rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (BENCHMARK_FILES / name).read_text().splitlines()]


def _register_rows_benchmark(
    registry: registry_pb2_grpc.RegistryServiceStub, name: str, rows: list[dict], **metadata: str
) -> str:
    """A dataset of inline rows and a multiple-choice benchmark over it; returns the benchmark id."""
    dataset = resources_pb2.Dataset(identifier=f"test/{name}-rows", provider_id="localfs")
    for row in rows:
        dataset.source.rows.rows.add().update(row)
    registry.RegisterDataset(registry_pb2.RegisterDatasetRequest(dataset=dataset))
    benchmark = resources_pb2.Benchmark(
        identifier=f"test/{name}", dataset_id=dataset.identifier, scoring_functions=[MULTIPLE_CHOICE]
    )
    benchmark.metadata.update(metadata)
    registry.RegisterBenchmark(registry_pb2.RegisterBenchmarkRequest(benchmark=benchmark))
    return benchmark.identifier


def test_the_open_benchmarks_are_registered(registry) -> None:
    listed = registry.ListBenchmarks(registry_pb2.ListBenchmarksRequest()).benchmarks
    by_id = {benchmark.identifier: benchmark for benchmark in listed}
    assert {MMLU, "meta-reference-gpqa-cot", "meta-reference-simpleqa", "meta-reference-mmmu"} <= set(by_id)
    assert list(by_id["meta-reference-simpleqa"].scoring_functions) == ["llm-as-judge::simpleqa"]
    assert by_id["meta-reference-mmmu"].dataset_id == "mmmu"


def test_run_benchmark_cli_writes_generations_scores_and_aggregates(mesh, channel, tmp_path: Path) -> None:
    out = tmp_path / "results"
    result = run_cli(
        mesh,
        "eval",
        "run-benchmark",
        MMLU,
        "meta-reference-gpqa-cot",
        "meta-reference-simpleqa",
        "meta-reference-mmmu",
        "--model-id",
        CHAT_MODEL,
        "--output-dir",
        str(out),
        "--num-examples",
        "2",
        "--max-tokens",
        "48",
        "--poll-interval",
        "0.5",
        columns=200,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout and MMLU in result.stdout
    scoring = scoring_pb2_grpc.ScoringServiceStub(channel)
    for benchmark, data_file, function in [
        (MMLU, "mmlu_cot.jsonl", MULTIPLE_CHOICE),
        ("meta-reference-gpqa-cot", "gpqa_cot.jsonl", MULTIPLE_CHOICE),
        ("meta-reference-simpleqa", "simpleqa.jsonl", "llm-as-judge::simpleqa"),
        ("meta-reference-mmmu", "mmmu.jsonl", MULTIPLE_CHOICE),
    ]:
        document = json.loads((out / f"{benchmark}_results.json").read_text())
        assert document["benchmark_id"] == benchmark and document["model_id"] == CHAT_MODEL
        generations = document["generations"]
        assert len(generations) == 2 and all(isinstance(g["generated_answer"], str) for g in generations)
        assert set(document["scores"]) == {function} and set(document["aggregate"]) == {function}
        score_rows = document["scores"][function]["score_rows"]
        assert len(score_rows) == 2 and document["aggregate"][function]
        if function == MULTIPLE_CHOICE:  # deterministic: the scores are those of these generations, row by row
            rows = _file_rows(data_file)[:2]
            rescored = scoring.Score(
                scoring_pb2.ScoreRequest(
                    input_rows=[
                        json_format.ParseDict({**row, "generated_answer": g["generated_answer"]}, struct_pb2.Struct())
                        for row, g in zip(rows, generations, strict=True)
                    ],
                    scoring_functions={function: resources_pb2.ScoringFunctionParams()},
                ),
                timeout=300,
            )
            expected = [row["score"] for row in to_dict(rescored.results[function])["score_rows"]]
            assert [row["score"] for row in score_rows] == expected
            accuracy = document["aggregate"][function]["accuracy"]
            assert accuracy["num_total"] == 2
            assert accuracy["num_correct"] == sum(float(row["score"]) for row in score_rows)
    mmmu = json.loads((out / "meta-reference-mmmu_results.json").read_text())
    # the small text-only model refuses the images: each row records why, and scores as wrong
    assert all("image" in g["error"] for g in mmmu["generations"])
    assert [row["score"] for row in mmmu["scores"][MULTIPLE_CHOICE]["score_rows"]] == [0, 0]


def test_job_result_and_listing_through_the_rpcs(evals) -> None:
    earlier = _start(evals, MMLU, _config(4, num_examples=1))
    job_id = _start(evals, MMLU, _config(16, num_examples=1))
    job = _wait(evals, MMLU, job_id, FINAL_STATES)
    assert job.status == jobs_pb2.JOB_STATUS_COMPLETED, job.error.message
    assert (job.progress.done, job.progress.total, job.progress.unit) == (1, 1, "rows")
    assert job.HasField("start_time") and job.HasField("end_time")
    result = evals.GetEvalJobResult(eval_pb2.GetEvalJobResultRequest(benchmark_id=MMLU, job_id=job_id))
    assert len(result.generations) == 1 and len(result.scores[MULTIPLE_CHOICE].score_rows) == 1
    listed = evals.ListEvalJobs(eval_pb2.ListEvalJobsRequest(benchmark_id=MMLU, page_size=1))
    assert [job.job_id for job in listed.jobs] == [job_id] and listed.next_page_token  # newest first
    following = evals.ListEvalJobs(
        eval_pb2.ListEvalJobsRequest(benchmark_id=MMLU, page_size=1, page_token=listed.next_page_token)
    )
    assert [job.job_id for job in following.jobs] == [earlier]
    # a job id is found only under its own benchmark
    error = expect_error(lambda: _get(evals, "meta-reference-gpqa-cot", job_id), grpc.StatusCode.NOT_FOUND)
    assert reason_and_field(error)[0] == "JOB_NOT_FOUND"


def test_evaluate_rows_answers_as_the_model_does_and_scores_the_answers(evals, channel) -> None:
    rows = _file_rows("mmlu_cot.jsonl")[2:4]
    config = _config(24, system_message="Answer with the letter of the right choice.")
    reply = _evaluate_rows(evals, rows, config)
    assert len(reply.generations) == 2
    inference = inference_pb2_grpc.InferenceServiceStub(channel)
    for row, generation in zip(rows, reply.generations, strict=True):
        # greedy decoding: the eval's answer is what the model says to the same conversation
        direct = inference.ChatCompletion(
            inference_pb2.ChatCompletionRequest(
                model_id=CHAT_MODEL,
                messages=[system("Answer with the letter of the right choice."), *row_messages(row)],
                sampling_params=config.eval_candidate.model.sampling_params,
            ),
            timeout=120,
        )
        assert generation["generated_answer"] == direct.completion_message.content.text
    scores = reply.scores[MULTIPLE_CHOICE]
    assert len(scores.score_rows) == 2
    assert scores.aggregated_results["accuracy"]["num_total"] == 2


def test_evaluate_rows_with_missing_columns_is_refused(evals) -> None:
    def evaluate(row: dict) -> grpc.RpcError:
        return expect_error(lambda: _evaluate_rows(evals, [row], _config(4)), grpc.StatusCode.INVALID_ARGUMENT)

    # the benchmark reads its prompt from chat_completion_input
    error = evaluate({"input_query": "What is 2+2?", "expected_answer": "B"})
    assert reason_and_field(error) == ("MALFORMED_ROW", "rows[0].chat_completion_input")
    # the scoring function needs expected_answer
    error = evaluate({"chat_completion_input": json.dumps([{"role": "user", "content": "What is 2+2?"}])})
    assert "expected_answer" in error.details()


def _agent_ids(channel: grpc.Channel) -> set[str]:
    agents = agents_pb2_grpc.AgentsServiceStub(channel)
    return {agent.agent_id for agent in agents.ListAgents(agents_pb2.ListAgentsRequest(page_size=1000)).agents}


def test_an_agent_candidate_answers_each_row_in_a_session_of_its_own(evals, channel) -> None:
    before = _agent_ids(channel)
    config = benchmark_config(
        agent_config={
            "model": CHAT_MODEL,
            "instructions": "Answer with the letter of the right choice.",
            "sampling_params": {"max_tokens": 16},
        },
    )
    rows = _file_rows("mmlu_cot.jsonl")[:2]
    reply = _evaluate_rows(evals, rows, config)
    generations = [to_dict(generation) for generation in reply.generations]
    assert len(generations) == 2 and all("error" not in g for g in generations), generations
    assert all(g["generated_answer"] and g["session_id"] and g["turn_id"] for g in generations)
    assert generations[0]["session_id"] != generations[1]["session_id"]
    assert len(reply.scores[MULTIPLE_CHOICE].score_rows) == 2
    # as a job too; the agent made for the run is deleted afterwards
    job_id = _start(evals, MMLU, eval_pb2.BenchmarkConfig(eval_candidate=config.eval_candidate, num_examples=1))
    job = _wait(evals, MMLU, job_id, FINAL_STATES)
    assert job.status == jobs_pb2.JOB_STATUS_COMPLETED, job.error.message
    assert job.metadata["candidate"] == f"agent:{CHAT_MODEL}"
    assert _agent_ids(channel) == before


def test_an_agent_candidate_needs_a_registered_llm(evals) -> None:
    config = benchmark_config(agent_config={"model": "no-such-model"})
    error = expect_error(
        lambda: evals.RunEval(eval_pb2.RunEvalRequest(benchmark_id=MMLU, benchmark_config=config)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert reason_and_field(error) == ("UNKNOWN_MODEL", "benchmark_config.eval_candidate.agent.config.model")


def test_cancel_stops_a_running_job_and_the_limit_keeps_the_next_one_queued(evals) -> None:
    first = _start(evals, MMLU, _config(256))
    second = _start(evals, MMLU, _config(256))
    running = _when(evals, MMLU, first, lambda job: job.status == jobs_pb2.JOB_STATUS_RUNNING and job.progress.total)
    assert running.progress.total == 5  # the rows are read: the job is generating
    # max_concurrent_jobs is 1 in this mesh: the second waits while the first runs
    assert _get(evals, MMLU, second).status == jobs_pb2.JOB_STATUS_QUEUED
    queued = evals.CancelEvalJob(eval_pb2.CancelEvalJobRequest(benchmark_id=MMLU, job_id=second))
    assert queued.status == jobs_pb2.JOB_STATUS_CANCELLED and not queued.HasField("start_time")
    cancelled = evals.CancelEvalJob(eval_pb2.CancelEvalJobRequest(benchmark_id=MMLU, job_id=first))
    assert cancelled.status == jobs_pb2.JOB_STATUS_CANCELLED
    assert cancelled.progress.done < cancelled.progress.total
    assert _get(evals, MMLU, first).status == jobs_pb2.JOB_STATUS_CANCELLED
    again = evals.CancelEvalJob(eval_pb2.CancelEvalJobRequest(benchmark_id=MMLU, job_id=first))
    assert again.status == jobs_pb2.JOB_STATUS_CANCELLED  # cancelling a final job changes nothing
    error = expect_error(
        lambda: evals.GetEvalJobResult(eval_pb2.GetEvalJobResultRequest(benchmark_id=MMLU, job_id=first)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert reason_and_field(error)[0] == "JOB_NOT_COMPLETED"


@pytest.mark.parametrize(
    ("stop", "reason"),
    [("kill", "SERVICE_RESTARTED"), ("terminate", "SERVICE_STOPPED")],  # died / shut down cleanly
)
def test_a_job_running_when_the_service_stops_is_failed_after_the_restart(mesh, evals, stop: str, reason: str) -> None:
    job_id = _start(evals, MMLU, _config(256))
    _wait(evals, MMLU, job_id, {jobs_pb2.JOB_STATUS_RUNNING})
    getattr(mesh.processes["eval"], stop)()
    mesh.processes["eval"].wait()
    mesh.start(only={"eval"})
    job = _when_reachable(lambda: _get(evals, MMLU, job_id))
    assert job.status == jobs_pb2.JOB_STATUS_FAILED
    assert job.error.reason == reason and "run it again" in job.error.message
    listed = evals.ListEvalJobs(eval_pb2.ListEvalJobsRequest(benchmark_id=MMLU))
    assert job_id in [job.job_id for job in listed.jobs]


def test_unknown_benchmark_is_not_found(evals) -> None:
    error = expect_error(
        lambda: evals.RunEval(eval_pb2.RunEvalRequest(benchmark_id="no-such-benchmark", benchmark_config=_config(8))),
        grpc.StatusCode.NOT_FOUND,
    )
    assert reason_and_field(error)[0] == "RESOURCE_NOT_FOUND"


@pytest.mark.parametrize(
    ("candidate", "reason", "field"),
    [
        ("no-such-model", "UNKNOWN_MODEL", "benchmark_config.eval_candidate.model.model"),
        (EMBEDDING_MODEL, "WRONG_MODEL_TYPE", "benchmark_config.eval_candidate.model.model"),
    ],
)
def test_a_candidate_that_is_no_registered_llm_is_refused(evals, candidate: str, reason: str, field: str) -> None:
    config = benchmark_config(candidate, max_tokens=8)
    error = expect_error(
        lambda: evals.RunEval(eval_pb2.RunEvalRequest(benchmark_id=MMLU, benchmark_config=config)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert reason_and_field(error) == (reason, field)
    assert candidate in error.details()


def test_bad_run_settings_are_refused(evals) -> None:
    negative = _config(8)
    negative.num_examples = -1
    for config, field in [
        (eval_pb2.BenchmarkConfig(), "benchmark_config.eval_candidate"),
        (negative, "benchmark_config.num_examples"),
        (_config(8, scoring_params={"basic::equality": {}}), "benchmark_config.scoring_params"),
    ]:
        error = expect_error(
            lambda config=config: evals.RunEval(eval_pb2.RunEvalRequest(benchmark_id=MMLU, benchmark_config=config)),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert reason_and_field(error)[1] == field


def test_a_dataset_without_prompt_columns_is_refused_before_the_job_starts(evals, registry) -> None:
    benchmark_id = _register_rows_benchmark(registry, "no-prompt", [{"question_text": "2+2?", "expected_answer": "A"}])
    error = expect_error(
        lambda: evals.RunEval(eval_pb2.RunEvalRequest(benchmark_id=benchmark_id, benchmark_config=_config(8))),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    reason, field = reason_and_field(error)
    assert reason == "MALFORMED_ROW" and field.startswith("rows[0].")
    assert "question_text" in error.details()  # says which columns the row has
    assert not evals.ListEvalJobs(eval_pb2.ListEvalJobsRequest(benchmark_id=benchmark_id)).jobs


def test_a_malformed_dataset_fails_clearly(evals, registry) -> None:
    good = _file_rows("mmlu_cot.jsonl")[0]
    broken = {**good, "chat_completion_input": '[{"role": "user", "content": '}
    # malformed first row: refused at once
    first_bad = _register_rows_benchmark(registry, "bad-first", [broken, good], prompt_format="chat_completion_input")
    error = expect_error(
        lambda: evals.RunEval(eval_pb2.RunEvalRequest(benchmark_id=first_bad, benchmark_config=_config(8))),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert reason_and_field(error) == ("MALFORMED_ROW", "rows[0].chat_completion_input")
    assert "not valid JSON" in error.details()
    # malformed later row: the job fails, saying which row
    later_bad = _register_rows_benchmark(registry, "bad-later", [good, broken], prompt_format="chat_completion_input")
    job_id = _start(evals, later_bad, _config(8))
    job = _wait(evals, later_bad, job_id, FINAL_STATES)
    assert job.status == jobs_pb2.JOB_STATUS_FAILED
    assert job.error.reason == "MALFORMED_ROW" and "rows[1].chat_completion_input" in job.error.message
    assert job.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]


def test_benchmarks_are_checked_when_registered(registry) -> None:
    unknown_function = resources_pb2.Benchmark(
        identifier="test/unknown-fn", dataset_id="mmlu_cot", scoring_functions=["basic::no-such-function"]
    )
    error = expect_error(
        lambda: registry.RegisterBenchmark(registry_pb2.RegisterBenchmarkRequest(benchmark=unknown_function)),
        grpc.StatusCode.NOT_FOUND,
    )
    assert reason_and_field(error)[0] == "SCORING_FUNCTION_NOT_FOUND"
    bad_format = resources_pb2.Benchmark(
        identifier="test/bad-format", dataset_id="mmlu_cot", scoring_functions=[MULTIPLE_CHOICE]
    )
    bad_format.metadata.update({"prompt_format": "xml"})
    error = expect_error(
        lambda: registry.RegisterBenchmark(registry_pb2.RegisterBenchmarkRequest(benchmark=bad_format)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert reason_and_field(error)[1] == "benchmark.metadata.prompt_format"
    no_functions = resources_pb2.Benchmark(identifier="test/no-fn", dataset_id="mmlu_cot")
    expect_error(
        lambda: registry.RegisterBenchmark(registry_pb2.RegisterBenchmarkRequest(benchmark=no_functions)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    listed = registry.ListBenchmarks(registry_pb2.ListBenchmarksRequest()).benchmarks
    assert not {"test/unknown-fn", "test/bad-format", "test/no-fn"} & {b.identifier for b in listed}


def test_cli_jobs_status_and_result(mesh, evals, tmp_path: Path) -> None:
    job_id = _start(evals, MMLU, _config(8, num_examples=1))
    _wait(evals, MMLU, job_id, FINAL_STATES)
    listed = run_cli(mesh, "eval", "jobs", MMLU, columns=200)
    assert listed.returncode == 0 and job_id in listed.stdout
    status = run_cli(mesh, "eval", "status", MMLU, job_id, "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["status"] == "JOB_STATUS_COMPLETED"
    out = tmp_path / "one.json"
    written = run_cli(mesh, "eval", "result", MMLU, job_id, "--output", str(out), columns=200)
    assert written.returncode == 0, written.stderr
    assert len(json.loads(out.read_text())["generations"]) == 1
    missing = run_cli(mesh, "eval", "status", MMLU, "eval-nope")
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr


def test_job_calls_with_bad_ids_or_pages_are_refused(evals) -> None:
    error = expect_error(lambda: _get(evals, MMLU, ""), grpc.StatusCode.INVALID_ARGUMENT)
    assert reason_and_field(error)[1] == "job_id"
    for request, field in [
        (eval_pb2.ListEvalJobsRequest(benchmark_id=MMLU, page_token="not-a-token"), "page_token"),
        (eval_pb2.ListEvalJobsRequest(benchmark_id=MMLU, page_size=-1), "page_size"),
    ]:
        error = expect_error(lambda request=request: evals.ListEvalJobs(request), grpc.StatusCode.INVALID_ARGUMENT)
        assert reason_and_field(error)[1] == field
    error = expect_error(
        lambda: evals.CancelEvalJob(eval_pb2.CancelEvalJobRequest(benchmark_id=MMLU, job_id="eval-missing")),
        grpc.StatusCode.NOT_FOUND,
    )
    assert "llama-mesh eval jobs" in error.details()


def test_python_clients_evaluate_rows_and_follow_jobs(mesh) -> None:
    row = _file_rows("mmlu_cot.jsonl")[0]
    with LlamaMeshClient(mesh.gateway_address, timeout=300) as client:
        reply = client.eval.evaluate_rows(MMLU, [row], CHAT_MODEL, max_tokens=4)
        assert len(reply.generations) == 1 and len(reply.scores[MULTIPLE_CHOICE].score_rows) == 1
        job = client.eval.run_eval(MMLU, CHAT_MODEL, num_examples=1, max_tokens=4)
        with pytest.raises(InvalidArgumentError) as caught:
            client.eval.run_eval(MMLU, "no-such-model")
        assert caught.value.reason == "UNKNOWN_MODEL"

    async def follow() -> jobs_pb2.Job:
        async with AsyncLlamaMeshClient(mesh.gateway_address, timeout=60) as client:
            found = await client.eval.get_job(MMLU, job.job_id)
            for _ in range(3000):  # polled: the job reports no events
                if found.status in FINAL_STATES:
                    break
                await asyncio.sleep(0.2)
                found = await client.eval.get_job(MMLU, job.job_id)
            assert job.job_id in [listed.job_id for listed in await client.eval.list_jobs(MMLU)]
            result = await client.eval.job_result(MMLU, job.job_id)
            assert len(result.generations) == 1
            return found

    assert asyncio.run(follow()).status == jobs_pb2.JOB_STATUS_COMPLETED
