"""inline::basic: exact match, subset, regex parsers (multiple choice, math, a user's own) and IFEval-style
instruction checks. A function is a built-in named by its provider_resource_id (a user's function may reuse one with
other params), or a user's REGEX_PARSER with its own parsing_regexes."""

from __future__ import annotations

import asyncio

import regex as timed_re
from pydantic import BaseModel, ConfigDict

from llama.common.v1 import resources_pb2 as res
from llama_mesh.runtime.errors import InvalidArgument
from services.scoring.answer_parsing import MAX_REGEX_CHARS, MAX_REGEXES, compile_regexes
from services.scoring.basic_functions import BUILTINS, REGEX_PARSER, BasicFunction
from services.scoring.ifeval_checks import InstructionError
from services.scoring.provider import ScoreRow, ScoringCall, ScoringProvider


class BasicConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


def compiled(patterns: list[str], field: str) -> list[timed_re.Pattern[str]]:
    """The compiled regexes, within the caps (MAX_REGEXES, MAX_REGEX_CHARS each)."""
    if len(patterns) > MAX_REGEXES:
        raise InvalidArgument(field, f"at most {MAX_REGEXES} regexes, got {len(patterns)}")
    for index, pattern in enumerate(patterns):
        if len(pattern) > MAX_REGEX_CHARS:
            raise InvalidArgument(f"{field}[{index}]", f"a regex is at most {MAX_REGEX_CHARS} characters")
    try:
        return compile_regexes(patterns)
    except timed_re.error as exc:
        bad = next(index for index, pattern in enumerate(patterns) if _fails(pattern))
        raise InvalidArgument(f"{field}[{bad}]", f"not a valid regular expression: {exc}") from exc


def _fails(pattern: str) -> bool:
    try:
        timed_re.compile(pattern)
    except timed_re.error:
        return True
    return False


class BasicScoring(ScoringProvider):
    def __init__(self, provider_id: str, config: BasicConfig) -> None:
        super().__init__(provider_id)
        self._config = config

    def _function(self, function: res.ScoringFunction, params: res.ScoringFunctionParams) -> BasicFunction:
        builtin = BUILTINS.get(function.provider_resource_id) or BUILTINS.get(function.identifier)
        if builtin is not None:
            return builtin
        if params.type == res.SCORING_FUNCTION_TYPE_REGEX_PARSER:
            if not params.parsing_regexes:
                raise InvalidArgument("scoring_function.params.parsing_regexes", "a regex parser needs at least one")
            return REGEX_PARSER
        raise InvalidArgument(
            "scoring_function.provider_resource_id",
            f"{function.provider_resource_id!r} is no built-in function of provider {self.provider_id!r} (one of "
            f"{', '.join(BUILTINS)}); or register type SCORING_FUNCTION_TYPE_REGEX_PARSER with parsing_regexes",
            reason="UNKNOWN_SCORING_FUNCTION",
        )

    async def prepare(self, function: res.ScoringFunction) -> res.ScoringFunction:
        if function.params.type == res.SCORING_FUNCTION_TYPE_LLM_AS_JUDGE:
            raise InvalidArgument(
                "scoring_function.params.type",
                f"provider {self.provider_id!r} does not judge with a model; use an llm-as-judge provider",
            )
        self._function(function, function.params)
        compiled(list(function.params.parsing_regexes), "scoring_function.params.parsing_regexes")
        return function

    def required_columns(self, function: res.ScoringFunction, params: res.ScoringFunctionParams) -> tuple[str, ...]:
        return self._function(function, params).columns

    def default_aggregations(self, function: res.ScoringFunction) -> list[int]:
        return [self._function(function, function.params).aggregation]

    async def score(self, call: ScoringCall) -> list[ScoreRow]:
        chosen = self._function(call.function, call.params)
        field = f"scoring_functions[{call.function_id}].parsing_regexes"
        regexes = compiled(list(call.params.parsing_regexes) or list(chosen.default_regexes), field)
        return await asyncio.to_thread(self._score_rows, call, chosen, regexes)

    @staticmethod
    def _score_rows(call: ScoringCall, chosen: BasicFunction, regexes: list[timed_re.Pattern[str]]) -> list[ScoreRow]:
        scores: list[ScoreRow] = []
        for index, row in enumerate(call.rows):
            try:
                scores.append(chosen.score_row(row, regexes))
            except (InstructionError, ValueError, TypeError) as exc:
                raise call.origin.bad_value(index, chosen.columns[0], call.function_id, str(exc)) from exc
        return scores
