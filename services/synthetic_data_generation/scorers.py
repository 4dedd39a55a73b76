"""Scoring candidates: with a scoring function of the scoring API, or from a judge model's log-probabilities of
"yes" and "no" (see JudgeLogprobsScorer in the contract). Both go through the gateway; both check what they name
before any candidate is generated."""

from __future__ import annotations

import math
import string
from abc import ABC, abstractmethod
from collections.abc import Sequence

from google.protobuf import json_format

from llama.common.v1 import content_pb2, messages_pb2, sampling_pb2
from llama.common.v1 import resources_pb2 as res
from llama.inference.v1 import inference_pb2
from llama.scoring.v1 import scoring_pb2
from llama.synthetic_data_generation.v1 import synthetic_data_generation_pb2 as pb
from llama_mesh.runtime.errors import InvalidArgument
from llama_mesh.runtime.gateway_client import GatewayClient
from services.synthetic_data_generation import registered
from services.synthetic_data_generation.candidates import Candidate
from services.synthetic_data_generation.concurrent_calls import bounded_map
from services.synthetic_data_generation.config import SynthesisConfig
from services.synthetic_data_generation.provider import Progress
from services.synthetic_data_generation.synthesis_rows import last_user_text, scoring_row, struct, transcript

DEFAULT_JUDGE_TEMPLATE = (
    "Here is a conversation and a candidate reply to its last message.\n\n"
    "Conversation:\n{dialog}\n\n"
    "Candidate reply:\n{generated_answer}\n\n"
    "Is the candidate reply a good answer: helpful, correct and clear? Answer Yes or No."
)
JUDGE_PLACEHOLDERS = ("dialog", "input_query", "generated_answer", "expected_answer")
# Alternatives the inference API returns per token at most (LogprobsConfig.top_k).
JUDGE_TOP_LOGPROBS = 20
_YES, _NO = "yes", "no"
# Scoring function types that compare with a reference answer.
_COMPARING = (res.SCORING_FUNCTION_TYPE_BASIC, res.SCORING_FUNCTION_TYPE_REGEX_PARSER)


class CandidateScorer(ABC):
    @abstractmethod
    async def check(self, dialogs: Sequence[pb.Dialog], time_left: float) -> None:
        """INVALID_ARGUMENT / NOT_FOUND for what the scorer names or needs, before any work."""

    @abstractmethod
    async def score(
        self, dialogs: Sequence[pb.Dialog], candidates: Sequence[Candidate], time_left: float, progress: Progress
    ) -> None:
        """Set each candidate's score (None when it cannot be read)."""


def numeric_score(value: object) -> float | None:
    """A score row's "score" as a number: numbers as they are, booleans as 1 / 0, anything else unscored."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


class FunctionScorer(CandidateScorer):
    """A registered scoring function, over one row per candidate, in one Score call."""

    def __init__(self, gateway: GatewayClient, function_id: str, params: res.ScoringFunctionParams, field: str) -> None:
        self._gateway = gateway
        self._function_id = function_id
        self._params = params
        self._field = field

    async def check(self, dialogs: Sequence[pb.Dialog], time_left: float) -> None:
        if not self._function_id:
            raise InvalidArgument(f"{self._field}.scoring_function_id", "is required")
        function = await registered.scoring_function(
            self._gateway, self._function_id, f"{self._field}.scoring_function_id", time_left
        )
        kind = self._params.type or function.params.type
        if kind in _COMPARING:
            for index, dialog in enumerate(dialogs):
                if not dialog.expected_answer:
                    raise InvalidArgument(
                        f"dialogs[{index}].expected_answer",
                        f"is required by {self._function_id!r}, which compares each candidate with a reference answer",
                    )

    async def score(
        self, dialogs: Sequence[pb.Dialog], candidates: Sequence[Candidate], time_left: float, progress: Progress
    ) -> None:
        rows = [struct(scoring_row(dialogs[c.dialog_index], c)) for c in candidates]
        request = scoring_pb2.ScoreRequest(input_rows=rows)
        request.scoring_functions[self._function_id].CopyFrom(self._params)
        reply = await self._gateway.call(self._gateway.scoring.Score, request, time_left)
        score_rows = reply.results[self._function_id].score_rows
        for candidate, row in zip(candidates, score_rows, strict=True):
            candidate.score = numeric_score(json_format.MessageToDict(row).get("score"))
        progress("scored", len(candidates), len(candidates))


def template_names(template: str, field: str) -> list[str]:
    """The placeholders of a judge prompt template; INVALID_ARGUMENT for one the scorer does not fill, or one with a
    format spec or conversion (`{dialog:>999999999}` asks for a string of that many characters, `{dialog:d}` fails
    only once the candidates are written)."""
    try:
        parsed = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(template)]
    except ValueError as exc:
        raise InvalidArgument(field, f"not a valid template: {exc} (write literal braces as {{{{ and }}}})") from exc
    names = []
    for name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in JUDGE_PLACEHOLDERS:
            raise InvalidArgument(
                field, f"unknown placeholder {{{name}}}; use {', '.join('{' + n + '}' for n in JUDGE_PLACEHOLDERS)}"
            )
        if spec or conversion:
            raise InvalidArgument(field, f"placeholder {{{name}}} takes no format spec or conversion; write {{{name}}}")
        names.append(name)
    return names


def verdict_score(top_logprobs: Sequence[tuple[str, float]]) -> float | None:
    """log P(yes) - log P(no) from one token's most likely alternatives (see JudgeLogprobsScorer). An alternative of
    probability 0 (log -inf) counts as not among them."""
    top_logprobs = [(token, logprob) for token, logprob in top_logprobs if math.isfinite(logprob)]
    if not top_logprobs:
        return None
    found: dict[str, list[float]] = {_YES: [], _NO: []}
    for token, logprob in top_logprobs:
        word = token.strip().lower()
        if word in found:
            found[word].append(logprob)
    if not found[_YES] and not found[_NO]:
        return None
    floor = min(logprob for _, logprob in top_logprobs)

    def log_mass(logprobs: list[float]) -> float:
        return math.log(sum(math.exp(value) for value in logprobs)) if logprobs else floor

    return log_mass(found[_YES]) - log_mass(found[_NO])


class JudgeLogprobsScorer(CandidateScorer):
    """One one-token judge completion per candidate; the score is read from the logprobs of that token."""

    def __init__(self, gateway: GatewayClient, judge_model: str, template: str, concurrency: int, field: str) -> None:
        self._gateway = gateway
        self._judge_model = judge_model
        self._template = template or DEFAULT_JUDGE_TEMPLATE
        self._concurrency = concurrency
        self._field = field

    async def check(self, dialogs: Sequence[pb.Dialog], time_left: float) -> None:
        if "expected_answer" in template_names(self._template, f"{self._field}.prompt_template"):
            for index, dialog in enumerate(dialogs):
                if not dialog.expected_answer:
                    raise InvalidArgument(
                        f"dialogs[{index}].expected_answer", "is required by the judge's prompt_template"
                    )
        await registered.llm(self._gateway, self._judge_model, f"{self._field}.judge_model", time_left)

    def prompt(self, dialog: pb.Dialog, candidate: Candidate) -> str:
        return self._template.format_map(
            {
                "dialog": transcript(dialog),
                "input_query": last_user_text(dialog),
                "generated_answer": candidate.text,
                "expected_answer": dialog.expected_answer,
            }
        )

    async def score(
        self, dialogs: Sequence[pb.Dialog], candidates: Sequence[Candidate], time_left: float, progress: Progress
    ) -> None:
        done = 0

        async def judge(candidate: Candidate) -> None:
            nonlocal done
            request = inference_pb2.ChatCompletionRequest(
                model_id=self._judge_model,
                messages=[
                    messages_pb2.Message(
                        role=messages_pb2.ROLE_USER,
                        content=content_pb2.Content(text=self.prompt(dialogs[candidate.dialog_index], candidate)),
                    )
                ],
                sampling_params=sampling_pb2.SamplingParams(max_tokens=1),  # greedy: the strategy left unset
                logprobs=sampling_pb2.LogprobsConfig(top_k=JUDGE_TOP_LOGPROBS),
            )
            reply = await self._gateway.call(self._gateway.inference.ChatCompletion, request, time_left)
            first = reply.logprobs[0].top_logprobs if reply.logprobs else []
            candidate.score = verdict_score([(top.token, top.logprob) for top in first])
            done += 1
            progress("scored", done, len(candidates))

        await bounded_map(judge, list(candidates), self._concurrency)


def scorer_for(
    request: pb.SynthesizeDataRequest, model_id: str, config: SynthesisConfig, gateway: GatewayClient
) -> CandidateScorer:
    """The request's scorer, or the provider's default."""
    kind = request.scorer.WhichOneof("scorer")
    if kind == "scoring_function":
        chosen = request.scorer.scoring_function
        return FunctionScorer(gateway, chosen.scoring_function_id, chosen.params, "scorer.scoring_function")
    if kind == "judge_logprobs":
        judge = request.scorer.judge_logprobs
        return JudgeLogprobsScorer(
            gateway,
            judge.judge_model or model_id,
            judge.prompt_template,
            config.max_concurrency,
            "scorer.judge_logprobs",
        )
    if config.default_scorer == "scoring_function":
        return FunctionScorer(
            gateway, config.default_scoring_function, res.ScoringFunctionParams(), "config.default_scoring_function"
        )
    return JudgeLogprobsScorer(
        gateway, config.default_judge_model or model_id, "", config.max_concurrency, "config.default_judge_model"
    )
