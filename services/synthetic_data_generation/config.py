"""Settings of the inline::meta-reference synthetic data provider (its `config:` in the distribution)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# The contract's caps (synthetic_data_generation.proto); a distribution may set lower ones.
MAX_DIALOGS = 1000
MAX_CANDIDATES_PER_DIALOG = 64
MAX_TOTAL_CANDIDATES = 1024


class SynthesisConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The model that writes candidates when a request names none (a registered LLM); empty: requests must name one.
    default_model: str = ""
    # Generations (and judge calls) in flight at once, over the whole request.
    max_concurrency: int = Field(default=2, ge=1, le=64)
    # max_tokens of a candidate when the request's sampling params set none.
    default_max_tokens: int = Field(default=256, ge=1)
    # The sampling of requests without sampling params (top-p sampling, so candidates differ).
    default_temperature: float = Field(default=0.8, gt=0)
    default_top_p: float = Field(default=0.95, gt=0, le=1)
    # Requests without a scorer: the judge-logprobs scorer (judge: default_judge_model, or the generating model) or
    # the scoring function default_scoring_function (with its registered params).
    default_scorer: Literal["judge_logprobs", "scoring_function"] = "judge_logprobs"
    default_judge_model: str = ""
    default_scoring_function: str = "llm-as-judge::base"
    # Caps, at most the contract's.
    max_dialogs: int = Field(default=MAX_DIALOGS, ge=1, le=MAX_DIALOGS)
    max_candidates_per_dialog: int = Field(default=MAX_CANDIDATES_PER_DIALOG, ge=1, le=MAX_CANDIDATES_PER_DIALOG)
    max_total_candidates: int = Field(default=MAX_TOTAL_CANDIDATES, ge=1, le=MAX_TOTAL_CANDIDATES)
    # Seconds a request may run when its caller set no deadline.
    default_timeout_s: float = Field(default=3600.0, gt=0)
