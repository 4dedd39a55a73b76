"""Requests as the client builds them and the service checks them, seeds, default sampling, and the progress stream
(its order, and the work cancelled when the stream is closed early)."""

from __future__ import annotations

import asyncio

import pytest

from llama.common.v1 import sampling_pb2
from llama.synthetic_data_generation.v1 import synthetic_data_generation_pb2 as pb
from llama_mesh.client.synthetic_data import synthesize_request, to_dialog
from llama_mesh.runtime.errors import InvalidArgument
from services.synthetic_data_generation.candidates import derived_seed, plan_candidates, request_seed, sampling_of
from services.synthetic_data_generation.config import SynthesisConfig
from services.synthetic_data_generation.progress_stream import progress_then_result
from services.synthetic_data_generation.request_checks import checked_size
from services.synthetic_data_generation.scorers import DEFAULT_JUDGE_TEMPLATE, template_names


def test_the_client_builds_the_request_from_keywords() -> None:
    request = synthesize_request(
        ["Hi!", {"messages": [{"role": "user", "content": "2+2?"}], "expected_answer": "4"}],
        model="m",
        filtering_function="top_k_top_p",
        k=2,
        p=0.5,
        num_candidates=3,
        seed=9,
        max_tokens=16,
        temperature=0.7,
        judge_model="judge",
        append_to="data",
        append_format="preference_pairs",
    )
    assert [dialog.expected_answer for dialog in request.dialogs] == ["", "4"]
    assert request.dialogs[1].messages[0].content.text == "2+2?"
    assert request.filtering_function == pb.FILTERING_FUNCTION_TOP_K_TOP_P
    assert (request.k, request.p, request.num_candidates, request.seed) == (2, 0.5, 3, 9)
    assert request.sampling_params.max_tokens == 16
    assert request.sampling_params.strategy.top_p.temperature == pytest.approx(0.7)
    assert request.scorer.judge_logprobs.judge_model == "judge"
    assert (request.append_to_dataset_id, request.append_format) == ("data", pb.OUTPUT_FORMAT_PREFERENCE_PAIRS)
    function = synthesize_request(["x"], scoring_function="basic::subset_of").scorer.scoring_function
    assert function.scoring_function_id == "basic::subset_of"
    with pytest.raises(ValueError, match="not both"):
        synthesize_request(["x"], scoring_function="f", judge_model="j")
    with pytest.raises(TypeError, match="unknown options: colour"):
        synthesize_request(["x"], colour="red")
    with pytest.raises(ValueError, match="'messages'"):
        to_dialog({"prompt": "x"})


def test_sizes_are_checked_against_the_caps() -> None:
    config = SynthesisConfig(max_dialogs=3, max_candidates_per_dialog=4, max_total_candidates=6)
    dialog = pb.Dialog(messages=to_dialog("x").messages)
    assert checked_size(pb.SynthesizeDataRequest(dialogs=[dialog]), config) == 1
    cases = [
        (pb.SynthesizeDataRequest(), "dialogs", None),
        (pb.SynthesizeDataRequest(dialogs=[dialog] * 4), "dialogs", "3"),
        (pb.SynthesizeDataRequest(dialogs=[dialog, pb.Dialog()]), "dialogs[1].messages", None),
        (pb.SynthesizeDataRequest(dialogs=[dialog], num_candidates=0), "num_candidates", "4"),
        (pb.SynthesizeDataRequest(dialogs=[dialog], num_candidates=5), "num_candidates", "4"),
        (pb.SynthesizeDataRequest(dialogs=[dialog] * 2, num_candidates=4), "num_candidates", "6"),
    ]
    for request, field, limit in cases:
        with pytest.raises(InvalidArgument) as raised:
            checked_size(request, config)
        assert raised.value.field == field
        assert raised.value.metadata.get("limit") == limit


@pytest.mark.parametrize(
    "template",
    [
        "Rate {dialog:>999999999999}",  # a string that long for every candidate: MemoryError
        "Rate {dialog:>200000000}",  # 200 MB per candidate, max_concurrency of them at once
        "Rate {generated_answer:d}",  # ValueError once the candidates are written
        "Rate {dialog:{generated_answer}}",  # the model's reply as a format spec
        "Rate {dialog!r}",
    ],
)
def test_judge_placeholders_take_no_format_spec(template: str) -> None:
    assert template_names(DEFAULT_JUDGE_TEMPLATE, "prompt_template") == ["dialog", "generated_answer"]
    with pytest.raises(InvalidArgument) as refused:
        template_names(template, "scorer.judge_logprobs.prompt_template")
    assert refused.value.field == "scorer.judge_logprobs.prompt_template"
    assert "takes no format spec or conversion" in refused.value.message


def test_seeds_are_derived_stably_and_differ_per_candidate() -> None:
    planned = plan_candidates(2, 3, seed=42)
    assert [c.seed for c in planned] == [c.seed for c in plan_candidates(2, 3, seed=42)]
    assert len({c.seed for c in planned}) == 6
    assert all(0 <= c.seed < 2**31 for c in planned)
    assert derived_seed(42, "candidate", 0, 0) != derived_seed(43, "candidate", 0, 0)
    assert request_seed(pb.SynthesizeDataRequest(seed=5)) == 5
    assert request_seed(pb.SynthesizeDataRequest(sampling_params=sampling_pb2.SamplingParams(seed=6))) == 6


def test_sampling_defaults_fill_only_what_the_request_leaves_out() -> None:
    config = SynthesisConfig(default_max_tokens=99, default_temperature=0.5)
    default = sampling_of(pb.SynthesizeDataRequest(), config)
    assert default.max_tokens == 99 and default.strategy.top_p.temperature == pytest.approx(0.5)
    short = pb.SynthesizeDataRequest(sampling_params=sampling_pb2.SamplingParams(max_tokens=8))
    only_length = sampling_of(short, config)
    assert only_length.max_tokens == 8 and only_length.strategy.WhichOneof("strategy") == "top_p"
    greedy = sampling_pb2.SamplingParams(strategy=sampling_pb2.SamplingStrategy(greedy=sampling_pb2.GreedySampling()))
    assert sampling_of(pb.SynthesizeDataRequest(sampling_params=greedy), config).strategy.WhichOneof("strategy") == (
        "greedy"
    )


async def test_progress_comes_before_the_result_and_closing_the_stream_cancels_the_work() -> None:
    async def work(progress) -> pb.SynthesizeDataResponse:
        for done in (1, 2):
            progress("generated", done, 2)
            await asyncio.sleep(0)
        progress("scored", 2, 2)
        return pb.SynthesizeDataResponse(statistics={"num_kept": 1})

    events = [event async for event in progress_then_result(work)]
    assert [event.WhichOneof("event") for event in events][-1] == "result"
    units = [(e.progress.unit, e.progress.done) for e in events[:-1]]
    assert units[-1] == ("scored", 2) and ("generated", 2) in units

    started, cancelled = asyncio.Event(), asyncio.Event()

    async def endless(progress) -> pb.SynthesizeDataResponse:
        progress("generated", 0, 1)
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        raise AssertionError("unreachable")

    stream = progress_then_result(endless)
    first = await anext(stream)
    assert first.progress.unit == "generated"
    await stream.aclose()
    assert started.is_set() and cancelled.is_set()
