"""inline::meta-reference: generates candidates with a registered model, scores them (a scoring function of the
scoring API, or a judge's logprobs), filters them, and optionally appends the rows to a dataset; every call goes
through the gateway, bounded by the request's deadline and cancelled with it."""

from __future__ import annotations

import asyncio
import random
import time

import grpc

from llama.datasetio.v1 import datasetio_pb2
from llama.synthetic_data_generation.v1 import synthetic_data_generation_pb2 as pb
from llama_mesh.runtime.config import ProviderConfig, RunConfig
from llama_mesh.runtime.errors import DeadlineExceeded, InvalidArgument
from llama_mesh.runtime.gateway_client import GatewayClient, time_left
from services.synthetic_data_generation import registered
from services.synthetic_data_generation.candidates import (
    Candidate,
    derived_seed,
    generate,
    plan_candidates,
    request_seed,
    sampling_of,
)
from services.synthetic_data_generation.concurrent_calls import bounded_map
from services.synthetic_data_generation.config import SynthesisConfig
from services.synthetic_data_generation.filters import FilterSpec, apply_filter, filter_spec
from services.synthetic_data_generation.provider import Progress, SyntheticDataProvider
from services.synthetic_data_generation.request_checks import checked_size
from services.synthetic_data_generation.scorers import scorer_for
from services.synthetic_data_generation.synthesis_rows import (
    Row,
    candidate_record,
    dialog_row,
    distribution,
    preference_pair,
    struct,
)


class _Clock:
    """The request's deadline (the caller's, or the configured default) and the time each phase took."""

    def __init__(self, seconds: float) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + seconds
        self.seconds: dict[str, float] = {}
        self._mark = self.started

    def left(self) -> float:
        return max(self.deadline - time.monotonic(), 0.0)

    def lap(self, phase: str) -> None:
        now = time.monotonic()
        self.seconds[phase] = round(now - self._mark, 3)
        self._mark = now


class MetaReferenceSynthesis(SyntheticDataProvider):
    def __init__(self, provider_id: str, config: SynthesisConfig, gateway: GatewayClient) -> None:
        self.provider_id = provider_id
        self._config = config
        self._gateway = gateway

    async def synthesize(
        self, request: pb.SynthesizeDataRequest, context: grpc.aio.ServicerContext, progress: Progress
    ) -> pb.SynthesizeDataResponse:
        config = self._config
        clock = _Clock(time_left(context, config.default_timeout_s))
        num_candidates = checked_size(request, config)
        spec = filter_spec(request, num_candidates)
        model_id = request.model or config.default_model
        if not model_id:
            raise InvalidArgument("model", "is required (this service has no default_model configured)")
        dialogs = list(request.dialogs)
        await registered.llm(self._gateway, model_id, "model", clock.left())
        scorer = scorer_for(request, model_id, config, self._gateway)
        await scorer.check(dialogs, clock.left())
        if request.append_to_dataset_id:
            await registered.dataset(self._gateway, request.append_to_dataset_id, "append_to_dataset_id", clock.left())

        seed = request_seed(request)
        candidates = plan_candidates(len(dialogs), num_candidates, seed)
        sampling = sampling_of(request, config)
        generated = 0

        async def write(candidate: Candidate) -> None:
            nonlocal generated
            await generate(self._gateway, model_id, dialogs[candidate.dialog_index], sampling, candidate, clock.left())
            generated += 1
            progress("generated", generated, len(candidates))

        try:
            async with asyncio.timeout(clock.left()):
                clock.lap("checks")
                await bounded_map(write, candidates, config.max_concurrency)
                clock.lap("generation")
                await scorer.score(dialogs, candidates, clock.left(), progress)
                clock.lap("scoring")
                filter_stats = _filter(spec, candidates, num_candidates, seed)
                reply = _reply(dialogs, candidates, num_candidates)
                appended = await self._append(request, reply, clock.left())
                clock.lap("append")
        except TimeoutError as exc:
            raise DeadlineExceeded(
                f"the request's deadline passed after {generated} of {len(candidates)} candidates were generated; "
                "set a longer deadline or send fewer dialogs or candidates",
                reason="SYNTHESIS_DEADLINE_EXCEEDED",
            ) from exc
        reply.statistics.CopyFrom(struct(_statistics(seed, spec, filter_stats, candidates, reply, appended, clock)))
        return reply

    async def _append(
        self, request: pb.SynthesizeDataRequest, reply: pb.SynthesizeDataResponse, left: float
    ) -> datasetio_pb2.AppendRowsResponse | None:
        if not request.append_to_dataset_id:
            return None
        pairs = request.append_format == pb.OUTPUT_FORMAT_PREFERENCE_PAIRS
        rows = reply.preference_pairs if pairs else reply.synthetic_data
        if not rows:
            return datasetio_pb2.AppendRowsResponse(appended_rows=0)
        append = datasetio_pb2.AppendRowsRequest(dataset_id=request.append_to_dataset_id, rows=rows)
        return await self._gateway.call(self._gateway.datasetio.AppendRows, append, left)

    async def close(self) -> None:
        await self._gateway.close()


def _filter(spec: FilterSpec, candidates: list[Candidate], per_dialog: int, seed: int) -> dict[str, int]:
    """Marks the kept candidates; returns the counts of each stage of a two-stage filter."""
    stages: dict[str, int] = {}
    for start in range(0, len(candidates), per_dialog):
        group = candidates[start : start + per_dialog]
        rng = random.Random(derived_seed(seed, "random-filter", group[0].dialog_index))
        outcome = apply_filter(spec, [c.score for c in group], rng)
        for index in outcome.kept:
            group[index].kept = True
        for stage, count in outcome.stages.items():
            stages[stage] = stages.get(stage, 0) + count
    return stages


def _reply(dialogs: list[pb.Dialog], candidates: list[Candidate], per_dialog: int) -> pb.SynthesizeDataResponse:
    reply = pb.SynthesizeDataResponse()
    for start in range(0, len(candidates), per_dialog):
        group = candidates[start : start + per_dialog]
        dialog = dialogs[group[0].dialog_index]
        reply.synthetic_data.extend(struct(dialog_row(dialog, c)) for c in group if c.kept)
        pair = preference_pair(dialog, group)
        if pair is not None:
            reply.preference_pairs.append(struct(pair))
    reply.candidates.extend(struct(candidate_record(c)) for c in candidates)
    return reply


def _statistics(
    seed: int,
    spec: FilterSpec,
    stages: dict[str, int],
    candidates: list[Candidate],
    reply: pb.SynthesizeDataResponse,
    appended: datasetio_pb2.AppendRowsResponse | None,
    clock: _Clock,
) -> Row:
    scores = [c.score for c in candidates if c.score is not None]
    kept_scores = [c.score for c in candidates if c.kept and c.score is not None]
    filter_row: Row = {"function": spec.name, **stages}
    # p and threshold arrived as float32: shown as the caller wrote them (0.9, not 0.8999999761581421).
    filter_row.update(
        {
            name: round(value, 6)
            for name, value in (("k", spec.k), ("p", spec.p), ("threshold", spec.threshold))
            if value is not None
        }
    )
    stats: Row = {
        "seed": seed,
        "num_dialogs": len({c.dialog_index for c in candidates}),
        "num_candidates": len(candidates),
        "num_kept": len(reply.synthetic_data),
        "num_unscored": len(candidates) - len(scores),
        "num_pairs": len(reply.preference_pairs),
        "filter": filter_row,
        "score": distribution(scores),
        "kept_score": distribution(kept_scores),
        "tokens": {
            "prompt": sum(c.prompt_tokens for c in candidates),
            "completion": sum(c.completion_tokens for c in candidates),
        },
    }
    if scores:
        stats["mean_score"] = stats["score"]["mean"]
    if appended is not None:
        stats["appended_rows"] = appended.appended_rows
        if appended.HasField("total_rows"):
            stats["dataset_total_rows"] = appended.total_rows
    clock.lap("statistics")
    stats["seconds"] = {**clock.seconds, "total": round(time.monotonic() - clock.started, 3)}
    return stats


def meta_reference(provider: ProviderConfig, run: RunConfig) -> MetaReferenceSynthesis:
    return MetaReferenceSynthesis(
        provider.provider_id, SynthesisConfig.model_validate(provider.config), GatewayClient(run.gateway.address)
    )
