"""What the inference service adds to its RPC's trace span: the model, its provider, token counts and time to
first token; a generation's usage also goes to the metrics. Without tracing the current span is a no-op span, and
without metrics nothing is recorded: these calls then cost next to nothing."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import aclosing

from opentelemetry import trace

from services.inference.generation import GenerationResult
from services.inference.provider import GenerationChunk
from services.inference.usage_metrics import record_usage


def record_model(model_id: str, provider_id: str, provider_resource_id: str) -> None:
    span = trace.get_current_span()
    span.set_attribute("model_id", model_id)
    span.set_attribute("provider_id", provider_id)
    span.set_attribute("provider_resource_id", provider_resource_id)


async def record_generation(
    chunks: AsyncIterator[GenerationChunk], result: GenerationResult, model: str
) -> AsyncIterator[GenerationChunk]:
    """Pass a generation's chunks through; note when the first text came and, at the end, the token counts."""
    span = trace.get_current_span()
    started = time.perf_counter()
    first_token_seen = False
    try:
        async with aclosing(chunks) as stream:  # type: ignore[type-var]
            async for chunk in stream:
                if not first_token_seen and chunk.text:
                    first_token_seen = True
                    span.set_attribute("time_to_first_token_ms", (time.perf_counter() - started) * 1000)
                yield chunk
    finally:
        span.set_attribute("prompt_tokens", result.prompt_tokens)
        span.set_attribute("completion_tokens", result.completion_tokens)
        record_usage(model, result.prompt_tokens, result.completion_tokens, time.perf_counter() - started)
