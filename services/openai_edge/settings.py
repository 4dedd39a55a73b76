"""The edge's settings: `openai_edge.config` of the distribution's run.yaml, with every cap it applies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

MIB = 1024 * 1024


class EdgeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The shield that answers /v1/moderations when a request names no `model`; empty: such requests are refused.
    moderation_shield: str = ""
    # The embedding model of a vector store created without `embedding_model`; empty: it must be given.
    vector_store_embedding_model: str = ""
    # Files: stored under <data_dir>/openai_edge/files; one upload at most max_file_bytes, all files together at most
    # max_total_file_bytes (413 / 429 beyond).
    max_file_bytes: int = Field(default=32 * MIB, gt=0)
    max_total_file_bytes: int = Field(default=1024 * MIB, gt=0)
    # Any other request body at most this many bytes (413 beyond).
    max_request_bytes: int = Field(default=16 * MIB, gt=0)
    # The bodies of all requests in progress together (an upload with its form's framing counts max_file_bytes + 1
    # MiB): a request whose body would pass it is a 503 `server_busy` that OpenAI's SDKs retry, so that callers,
    # before any token is checked, cannot make the edge hold more than this in memory and temporary files.
    max_inflight_body_bytes: int = Field(default=256 * MIB, gt=0)
    # Seconds a request's whole body may take to arrive (408 beyond): a caller sending a byte now and then does not
    # hold a request, and its share of max_inflight_body_bytes, open for longer.
    body_timeout_seconds: float = Field(default=120.0, gt=0)
    # Chunking of files added to a vector store, in tokens, unless the request's chunking_strategy says otherwise.
    chunk_size_tokens: int = Field(default=512, ge=16)
    chunk_overlap_tokens: int = Field(default=128, ge=0)
    # Batches (/v1/batches): requests of one batch run at once, requests per input file, batches one edge runs at
    # once (429 beyond; each holds its input file in memory).
    batch_concurrency: int = Field(default=4, ge=1, le=64)
    max_batch_requests: int = Field(default=50_000, ge=1)
    max_running_batches: int = Field(default=16, ge=1)
    # Batches that have ended a token keeps: creating one more forgets its oldest (their files stay files).
    max_kept_batches: int = Field(default=1000, ge=1)
    # Seconds a call through the gateway may take.
    call_timeout_seconds: float = Field(default=600.0, gt=0)

    @property
    def max_upload_bytes(self) -> int:
        """An upload's whole body: its file and the multipart form around it."""
        return self.max_file_bytes + MIB

    @model_validator(mode="after")
    def _one_body_fits_in_flight(self) -> EdgeSettings:
        largest = max(self.max_request_bytes, self.max_upload_bytes)
        if self.max_inflight_body_bytes < largest:
            raise ValueError(
                f"max_inflight_body_bytes ({self.max_inflight_body_bytes}) must hold one body of the largest size a "
                f"request may have ({largest}: max_request_bytes, or max_file_bytes + 1 MiB)"
            )
        return self
