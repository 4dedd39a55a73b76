"""The scoring service in the default distribution: the built-in functions on rows with known answers, a user's own
function, LLM-as-judge with the real SmolLM2 as judge, whole datasets scored and saved, and bad input refused."""

from __future__ import annotations

import json
import re
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format, struct_pb2

from llama.common.v1 import resources_pb2 as res
from llama.datasetio.v1 import datasetio_pb2, datasetio_pb2_grpc
from llama.registry.v1 import registry_pb2
from llama.scoring.v1 import scoring_pb2, scoring_pb2_grpc
from llama_mesh.launcher import LocalMesh
from tests.mesh.helpers import CHAT_MODEL, expect_error, reason_and_field, run_cli

BUILTINS = {
    "basic::equality",
    "basic::subset_of",
    "basic::regex_parser_multiple_choice_answer",
    "basic::regex_parser_math_response",
    "basic::ifeval",
    "llm-as-judge::base",
}
ALL_AGGREGATIONS = [
    res.AGGREGATION_FUNCTION_ACCURACY,
    res.AGGREGATION_FUNCTION_AVERAGE,
    res.AGGREGATION_FUNCTION_WEIGHTED_AVERAGE,
    res.AGGREGATION_FUNCTION_MEDIAN,
    res.AGGREGATION_FUNCTION_CATEGORICAL_COUNT,
]
JUDGE_TEMPLATE = (
    "Question: {input_query}\nExpected answer: {expected_answer}\nGiven answer: {generated_answer}\n"
    "Rate the given answer from 1 to 5."
)
SCORE_GRAMMAR = 'root ::= "Score: " [1-5]'


@pytest.fixture(scope="module")
def scoring(gateway: grpc.Channel) -> scoring_pb2_grpc.ScoringServiceStub:
    return scoring_pb2_grpc.ScoringServiceStub(gateway)


def rows(*pairs: tuple[str, str]) -> list[struct_pb2.Struct]:
    return [struct({"generated_answer": generated, "expected_answer": expected}) for generated, expected in pairs]


def struct(row: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(row)
    return message


def score(scoring, function_id: str, input_rows, params: res.ScoringFunctionParams | None = None):
    request = scoring_pb2.ScoreRequest(input_rows=input_rows)
    request.scoring_functions[function_id].CopyFrom(params or res.ScoringFunctionParams())
    result = scoring.Score(request, timeout=300).results[function_id]
    return [json_format.MessageToDict(row) for row in result.score_rows], json_format.MessageToDict(
        result.aggregated_results
    )


def test_the_builtin_functions_are_registered(registry) -> None:
    listed = registry.ListScoringFunctions(registry_pb2.ListScoringFunctionsRequest(page_size=100))
    assert {function.identifier for function in listed.scoring_functions} >= BUILTINS


def test_equality_with_every_aggregation(scoring) -> None:
    params = res.ScoringFunctionParams(type=res.SCORING_FUNCTION_TYPE_BASIC, aggregation_functions=ALL_AGGREGATIONS)
    input_rows = rows(("4", "4"), ("5", "4"), ("Paris", "Paris"), ("paris", "Paris"))
    score_rows, aggregated = score(scoring, "basic::equality", input_rows, params)
    assert [row["score"] for row in score_rows] == [1.0, 0.0, 1.0, 0.0]
    assert aggregated == {
        "accuracy": {"accuracy": 0.5, "num_correct": 2.0, "num_total": 4.0},
        "average": {"average": 0.5},
        "weighted_average": {"weighted_average": 0.5},
        "median": {"median": 0.5},
        "categorical_count": {"categorical_count": {"1": 2.0, "0": 2.0}},
    }


def test_subset_of(scoring) -> None:
    score_rows, aggregated = score(
        scoring, "basic::subset_of", rows(("The capital is Paris.", "Paris"), ("Lyon", "Paris"), ("42 apples", "42"))
    )
    assert [row["score"] for row in score_rows] == [1.0, 0.0, 1.0]
    assert aggregated["accuracy"]["num_correct"] == 2.0 and aggregated["accuracy"]["num_total"] == 3.0


def test_multiple_choice_parser(scoring) -> None:
    input_rows = rows(
        ("Let me think. Answer: B", "B"),
        ("The answer is (C).", "B"),
        ("Both look fine, but the answer is **D**", "D"),
        ("I have no idea.", "A"),
    )
    score_rows, aggregated = score(scoring, "basic::regex_parser_multiple_choice_answer", input_rows)
    assert [row["score"] for row in score_rows] == [1.0, 0.0, 1.0, 0.0]
    assert [row.get("parsed_answer") for row in score_rows] == ["B", "C", "D", None]
    assert aggregated == {"accuracy": {"accuracy": 0.5, "num_correct": 2.0, "num_total": 4.0}}


def test_math_parser(scoring) -> None:
    input_rows = rows(
        ("So x = 1/2. The final answer is $\\boxed{\\frac{1}{2}}$. I hope it is correct.", "0.5"),
        ("Answer: 1,000", "1000"),
        ("The final answer is $\\boxed{3}$.", "4"),
        ("It is \\boxed{\\text{blue}}", "blue"),
    )
    score_rows, aggregated = score(scoring, "basic::regex_parser_math_response", input_rows)
    assert [row["score"] for row in score_rows] == [1.0, 1.0, 0.0, 1.0]
    assert aggregated["accuracy"]["accuracy"] == 0.75


def test_ifeval_instruction_checks(scoring) -> None:
    input_rows = [
        struct(
            {
                "instruction_id_list": ["punctuation:no_comma", "change_case:english_lowercase"],
                "kwargs": [{}, {}],
                "generated_answer": "hello world",
            }
        ),
        struct(
            {
                "instruction_id_list": ["length_constraints:number_words", "keywords:existence"],
                "kwargs": [{"relation": "at least", "num_words": 5}, {"keywords": ["cat"]}],
                "generated_answer": "A cat sat.",
            }
        ),
        struct({"instruction_id_list": ["detectable_format:title"], "kwargs": [{}], "generated_answer": "<<Ode>> hi"}),
    ]
    score_rows, aggregated = score(scoring, "basic::ifeval", input_rows)
    assert [(row["score"], row["weight"]) for row in score_rows] == [(1.0, 2.0), (0.5, 2.0), (1.0, 1.0)]
    assert score_rows[1]["followed_instructions"] == [False, True]
    assert aggregated == {"weighted_average": {"weighted_average": 0.8}}


def test_ifeval_leaves_out_instructions_it_does_not_check(scoring) -> None:
    input_rows = [
        struct(
            {"instruction_id_list": ["made:up", "punctuation:no_comma"], "kwargs": [{}, {}], "generated_answer": "x"}
        ),
        struct({"instruction_id_list": ["made:up"], "kwargs": [{}], "generated_answer": "x"}),
    ]
    score_rows, aggregated = score(scoring, "basic::ifeval", input_rows)
    assert score_rows[0] == {
        "score": 1.0,
        "weight": 1.0,
        "followed_instructions": [True],
        "unsupported_instructions": ["made:up"],
    }
    assert score_rows[1]["score"] is None and "none of the row's instructions" in score_rows[1]["error"]
    assert aggregated == {"weighted_average": {"weighted_average": 1.0, "num_failed": 1.0}}


def test_ifeval_arguments_that_cannot_be_used_name_the_row(scoring) -> None:
    bad = [
        struct(
            {
                "instruction_id_list": ["length_constraints:number_words"],
                "kwargs": [{"relation": "at least"}],
                "generated_answer": "x",
            }
        )
    ]
    error = expect_error(lambda: score(scoring, "basic::ifeval", bad), grpc.StatusCode.INVALID_ARGUMENT)
    assert "num_words" in error.details() and "input row 0" in error.details()


def test_a_users_regex_parser_function(registry, scoring) -> None:
    function = res.ScoringFunction(
        identifier="test/final-word",
        provider_id="basic",
        params=res.ScoringFunctionParams(
            type=res.SCORING_FUNCTION_TYPE_REGEX_PARSER,
            parsing_regexes=[r"Final:\s*(\w+)"],
            aggregation_functions=[res.AGGREGATION_FUNCTION_AVERAGE],
        ),
    )
    registry.RegisterScoringFunction(registry_pb2.RegisterScoringFunctionRequest(scoring_function=function))
    try:
        score_rows, aggregated = score(scoring, "test/final-word", rows(("Final: Blue", "blue"), ("blue", "blue")))
        assert [row["score"] for row in score_rows] == [1.0, 0.0]
        assert aggregated == {"average": {"average": 0.5}}
    finally:
        registry.UnregisterScoringFunction(
            registry_pb2.UnregisterScoringFunctionRequest(scoring_function_id="test/final-word")
        )


def test_a_function_with_a_bad_regex_is_not_registered(registry) -> None:
    function = res.ScoringFunction(
        identifier="test/bad-regex",
        provider_id="basic",
        params=res.ScoringFunctionParams(type=res.SCORING_FUNCTION_TYPE_REGEX_PARSER, parsing_regexes=["(unclosed"]),
    )
    error = expect_error(
        lambda: registry.RegisterScoringFunction(
            registry_pb2.RegisterScoringFunctionRequest(scoring_function=function)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert reason_and_field(error)[1] == "scoring_function.params.parsing_regexes[0]"
    expect_error(
        lambda: registry.GetScoringFunction(
            registry_pb2.GetScoringFunctionRequest(scoring_function_id="test/bad-regex")
        ),
        grpc.StatusCode.NOT_FOUND,
    )


def register_judge(registry, identifier: str, score_regex: str) -> None:
    function = res.ScoringFunction(
        identifier=identifier,
        provider_id="llm-as-judge",
        params=res.ScoringFunctionParams(
            type=res.SCORING_FUNCTION_TYPE_LLM_AS_JUDGE,
            judge_model=CHAT_MODEL,
            prompt_template=JUDGE_TEMPLATE,
            judge_score_regexes=[score_regex],
            aggregation_functions=[res.AGGREGATION_FUNCTION_AVERAGE],
        ),
    )
    # The grammar makes the small model's reply parseable: "Score: N".
    function.metadata.update({"judge_grammar": SCORE_GRAMMAR, "judge_max_tokens": 8})
    registry.RegisterScoringFunction(registry_pb2.RegisterScoringFunctionRequest(scoring_function=function))


JUDGED = [struct({"input_query": "What is 2 + 2?", "expected_answer": "4", "generated_answer": "2 + 2 = 4"})]


def test_llm_as_judge_scores_from_the_real_judge_reply(registry, scoring) -> None:
    register_judge(registry, "test/judge", r"Score:\s*([1-5])")
    try:
        score_rows, aggregated = score(scoring, "test/judge", JUDGED)
    finally:
        registry.UnregisterScoringFunction(
            registry_pb2.UnregisterScoringFunctionRequest(scoring_function_id="test/judge")
        )
    [row] = score_rows
    assert re.fullmatch(r"Score: [1-5]", row["judge_feedback"]), row
    assert row["score"] == float(row["judge_feedback"][-1])
    assert aggregated == {"average": {"average": row["score"]}}


def test_an_unparseable_judge_reply_is_a_recorded_failure(registry, scoring) -> None:
    register_judge(registry, "test/strict-judge", r"VERDICT=(\d)")
    try:
        score_rows, aggregated = score(scoring, "test/strict-judge", JUDGED)
    finally:
        registry.UnregisterScoringFunction(
            registry_pb2.UnregisterScoringFunctionRequest(scoring_function_id="test/strict-judge")
        )
    [row] = score_rows
    assert row["score"] is None
    assert "judge_score_regexes" in row["error"] and row["judge_feedback"].startswith("Score: ")
    assert aggregated == {"average": {"average": None, "num_failed": 1.0}}


def test_the_base_judge_never_makes_up_a_score(scoring) -> None:
    """llm-as-judge::base with its default template and regex, unconstrained: each row is scored with the number its
    reply states, or recorded as failed with the reply kept."""
    score_rows, aggregated = score(scoring, "llm-as-judge::base", JUDGED * 2)
    failed = 0
    for row in score_rows:
        stated = re.search(r"(?i)score\s*[:=]?\s*(\d+(?:\.\d+)?)", row["judge_feedback"])
        if row["score"] is None:
            failed += 1
            assert stated is None and row["error"]
        else:
            assert stated is not None and row["score"] == float(stated.group(1))
    assert aggregated["average"].get("num_failed", 0.0) == failed


def test_a_judge_whose_model_is_not_registered_is_refused(registry) -> None:
    function = res.ScoringFunction(
        identifier="test/orphan-judge",
        provider_id="llm-as-judge",
        params=res.ScoringFunctionParams(type=res.SCORING_FUNCTION_TYPE_LLM_AS_JUDGE, judge_model="no-such-model"),
    )
    error = expect_error(
        lambda: registry.RegisterScoringFunction(
            registry_pb2.RegisterScoringFunctionRequest(scoring_function=function)
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    assert "no-such-model" in error.details()


def test_a_missing_column_names_the_row_and_column(scoring) -> None:
    bad = [struct({"generated_answer": "4", "expected_answer": "4"}), struct({"generated_answer": "5"})]
    error = expect_error(lambda: score(scoring, "basic::equality", bad), grpc.StatusCode.INVALID_ARGUMENT)
    assert reason_and_field(error) == ("MISSING_COLUMN", "input_rows[1]")
    assert "expected_answer" in error.details() and "basic::equality" in error.details()


def test_an_unknown_scoring_function_is_not_found(scoring) -> None:
    error = expect_error(lambda: score(scoring, "basic::no-such-function", rows(("a", "a"))), grpc.StatusCode.NOT_FOUND)
    assert "basic::no-such-function" in error.details()


def dataset_file(local_mesh: LocalMesh, name: str, lines: list[dict]) -> Path:
    path = Path(local_mesh.config.data_dir) / "datasets" / name  # where datasetio reads dataset files by default
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def register_dataset(registry, identifier: str, path: Path) -> None:
    dataset = res.Dataset(
        identifier=identifier, purpose=res.DATASET_PURPOSE_EVAL_QUESTION_ANSWER, source=res.DataSource(uri=str(path))
    )
    registry.RegisterDataset(registry_pb2.RegisterDatasetRequest(dataset=dataset), timeout=30)


def test_score_batch_scores_a_dataset_and_saves_the_scored_rows(local_mesh, gateway, registry, scoring) -> None:
    lines = [
        {"input_query": "2+2?", "expected_answer": "4", "generated_answer": "4"},
        {"input_query": "3+3?", "expected_answer": "6", "generated_answer": "7"},
        {"input_query": "1+1?", "expected_answer": "2", "generated_answer": "2"},
    ]
    register_dataset(registry, "test/answers", dataset_file(local_mesh, "answers.jsonl", lines))
    request = scoring_pb2.ScoreBatchRequest(dataset_id="test/answers", save_results_dataset=True)
    request.scoring_functions["basic::equality"].CopyFrom(res.ScoringFunctionParams())
    reply = scoring.ScoreBatch(request, timeout=120)
    result = json_format.MessageToDict(reply.results["basic::equality"].aggregated_results)
    assert result == {"accuracy": {"accuracy": 2 / 3, "num_correct": 2.0, "num_total": 3.0}}
    assert reply.saved_dataset_id.startswith("test/answers-scored-")
    saved = datasetio_pb2_grpc.DatasetIOServiceStub(gateway).IterRows(
        datasetio_pb2.IterRowsRequest(dataset_id=reply.saved_dataset_id), timeout=30
    )
    saved_rows = [json_format.MessageToDict(row) for row in saved.rows]
    assert [row["basic::equality"]["score"] for row in saved_rows] == [1.0, 0.0, 1.0]
    assert [{k: v for k, v in row.items() if k != "basic::equality"} for row in saved_rows] == lines
    stored = registry.GetDataset(registry_pb2.GetDatasetRequest(dataset_id=reply.saved_dataset_id))
    assert stored.purpose == res.DATASET_PURPOSE_EVAL_QUESTION_ANSWER


def test_score_batch_with_a_missing_column_saves_nothing(local_mesh, registry, scoring) -> None:
    lines = [{"input_query": "2+2?", "expected_answer": "4"}]
    register_dataset(registry, "test/unanswered", dataset_file(local_mesh, "unanswered.jsonl", lines))
    before = registry.ListDatasets(registry_pb2.ListDatasetsRequest(page_size=1000)).datasets
    request = scoring_pb2.ScoreBatchRequest(dataset_id="test/unanswered", save_results_dataset=True)
    request.scoring_functions["basic::subset_of"].CopyFrom(res.ScoringFunctionParams())
    error = expect_error(lambda: scoring.ScoreBatch(request, timeout=60), grpc.StatusCode.INVALID_ARGUMENT)
    assert "row 0 of dataset 'test/unanswered'" in error.details() and "generated_answer" in error.details()
    assert reason_and_field(error)[0] == "MISSING_COLUMN"
    after = registry.ListDatasets(registry_pb2.ListDatasetsRequest(page_size=1000)).datasets
    assert [d.identifier for d in after] == [d.identifier for d in before]


def test_score_batch_of_an_unknown_dataset_is_not_found(scoring) -> None:
    request = scoring_pb2.ScoreBatchRequest(dataset_id="test/no-such-dataset")
    request.scoring_functions["basic::equality"].CopyFrom(res.ScoringFunctionParams())
    error = expect_error(lambda: scoring.ScoreBatch(request, timeout=60), grpc.StatusCode.NOT_FOUND)
    assert "test/no-such-dataset" in error.details()


def test_cli_lists_the_functions_and_scores_a_rows_file(local_mesh, tmp_path: Path) -> None:
    listed = run_cli(local_mesh, "--json", "scoring-functions", "list")
    assert listed.returncode == 0, listed.stderr
    assert {item["identifier"] for item in json.loads(listed.stdout)} >= BUILTINS
    path = tmp_path / "answers.jsonl"
    path.write_text(
        "".join(json.dumps({"generated_answer": g, "expected_answer": e}) + "\n" for g, e in [("4", "4"), ("5", "4")])
    )
    done = run_cli(local_mesh, "scoring", "score", "-f", "basic::equality", "--rows-file", str(path), columns=200)
    assert done.returncode == 0, done.stderr
    assert "basic::equality" in done.stdout and '"accuracy":0.5' in done.stdout
    as_json = run_cli(local_mesh, "--json", "scoring", "score", "-f", "basic::equality", "--rows-file", str(path))
    result = json.loads(as_json.stdout)["results"]["basic::equality"]
    assert [row["score"] for row in result["score_rows"]] == [1.0, 0.0]
    bad = run_cli(local_mesh, "scoring", "score", "-f", "basic::nothing", "--rows-file", str(path))
    assert bad.returncode == 1 and "NOT_FOUND" in bad.stderr
