"""The inference service's metrics (when the mesh has metrics on, see llama_mesh/runtime/metrics.py): prompt and
completion tokens and the generation rate per model, and the engines' queue depth (running and waiting requests),
read from the engines' own counts whenever the metrics are collected."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from llama_mesh.runtime.metrics import meter
from services.inference.provider import Embedder
from services.inference.providers import ProviderSet

log = logging.getLogger(__name__)


class UsageMetrics:
    def __init__(self, meter: Meter, providers: ProviderSet) -> None:
        self._providers = providers
        self._prompt_tokens = meter.create_counter(
            "llama_mesh.inference.prompt_tokens", unit="{token}", description="Prompt tokens evaluated, by model"
        )
        self._completion_tokens = meter.create_counter(
            "llama_mesh.inference.completion_tokens", unit="{token}", description="Tokens generated, by model"
        )
        self._rate = meter.create_histogram(
            "llama_mesh.inference.tokens_per_second",
            unit="{token}/s",
            description="Completion tokens over the generation's time (prompt evaluation included), per request",
        )
        meter.create_observable_gauge(
            "llama_mesh.inference.engine.requests",
            callbacks=[self._queue_depth],
            unit="{request}",
            description="Requests in each engine, by state: running (generating) or waiting (queued, prefilling)",
        )

    def record(self, model: str, prompt_tokens: int, completion_tokens: int, seconds: float) -> None:
        labels = {"model": model}
        self._prompt_tokens.add(prompt_tokens, labels)
        self._completion_tokens.add(completion_tokens, labels)
        if completion_tokens and seconds > 0:
            self._rate.record(completion_tokens / seconds, labels)

    def _queue_depth(self, options: CallbackOptions) -> Iterable[Observation]:
        """Runs on the metric reader's thread: the engines' counts are read as they are at that moment."""
        observations = []
        for provider in self._providers:
            for model, engine in provider.loaded_engines().items():
                if isinstance(engine, Embedder):
                    continue
                try:
                    stats = engine.stats()
                except RuntimeError:  # an engine's count changed while read from this thread: next collection
                    log.debug("engine stats of %s unavailable this time", model, exc_info=True)
                    continue
                labels = {"provider_id": provider.provider_id, "model": model}
                observations.append(Observation(stats.running_requests, {**labels, "state": "running"}))
                observations.append(Observation(stats.waiting_requests, {**labels, "state": "waiting"}))
        return observations


_usage: UsageMetrics | None = None


def install(providers: ProviderSet) -> None:
    """Create the instruments when the process has metrics on; otherwise recording stays a no-op."""
    global _usage
    process_meter = meter()
    _usage = UsageMetrics(process_meter, providers) if process_meter is not None else None


def record_usage(model: str, prompt_tokens: int, completion_tokens: int, seconds: float) -> None:
    if _usage is not None:
        _usage.record(model, prompt_tokens, completion_tokens, seconds)
