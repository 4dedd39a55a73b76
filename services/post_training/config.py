"""Settings of the inline::huggingface post-training provider (its `config:` in the distribution)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class HuggingFacePostTrainingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Jobs that train at the same time (each in its own process); more wait QUEUED.
    max_concurrent_jobs: int = Field(default=1, ge=1)
    # Where checkpoints go; empty: <data_dir>/post_training/checkpoints. The inference service's llama-cpp provider
    # serves checkpoints from the same directory (its own checkpoint_dir setting), so point both at one volume.
    checkpoint_dir: str = ""
    # Rows a job reads from its training (and validation) dataset, at most.
    max_rows: int = Field(default=10000, ge=1)
    # Tokens of one training sequence, at most (longer ones are cut).
    max_seq_length: int = Field(default=1024, ge=16)
    # CPU threads of each training process; 0: torch's default (every core).
    threads: int = Field(default=0, ge=0)
    # After a cancel, how long a training process has to exit on SIGTERM before it is killed.
    cancel_grace_s: float = Field(default=5.0, gt=0)
