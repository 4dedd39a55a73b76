"""Embeddings for chunks and queries, from the inference API through the gateway (never from inference's code)."""

from __future__ import annotations

import time

from llama.inference.v1 import inference_pb2
from llama_mesh.runtime.errors import Internal
from llama_mesh.runtime.gateway_client import DEFAULT_TIMEOUT_SECONDS, GatewayClient

# Texts per Embeddings call; the inference service accepts up to 2048.
BATCH_SIZE = 256

DOCUMENT = inference_pb2.EMBEDDING_TASK_TYPE_DOCUMENT
QUERY = inference_pb2.EMBEDDING_TASK_TYPE_QUERY


async def embed(
    gateway: GatewayClient, model_id: str, texts: list[str], task_type: int, time_left: float | None
) -> list[list[float]]:
    """One embedding per text, in order; the inference service's error (e.g. NOT_FOUND) is passed on.
    `time_left` (the caller's remaining deadline) covers every batch together."""
    deadline = time.monotonic() + (DEFAULT_TIMEOUT_SECONDS if time_left is None else time_left)
    vectors: list[list[float]] = []
    for start in range(0, len(texts), BATCH_SIZE):
        batch = texts[start : start + BATCH_SIZE]
        request = inference_pb2.EmbeddingsRequest(model_id=model_id, contents=batch, task_type=task_type)
        reply = await gateway.call(gateway.inference.Embeddings, request, max(deadline - time.monotonic(), 0.0))
        if len(reply.embeddings) != len(batch):
            raise Internal(f"embedding model {model_id!r} returned {len(reply.embeddings)} of {len(batch)}")
        vectors.extend(list(embedding.values) for embedding in reply.embeddings)
    return vectors
