"""Post-training checkpoints on disk, and the one rule for naming them: a checkpoint is a directory inside the mesh's
checkpoint root (`<data_dir>/post_training/checkpoints` unless configured), holding `checkpoint.json`.

The post-training service writes them; the inference service serves them (a model registered with a checkpoint's
identifier as its provider_resource_id). A name is either the identifier (the directory's path relative to the root,
e.g. `sft-1a2b3c`) or an absolute path; either way it must resolve, symlinks followed, to a directory inside the root
that holds a complete checkpoint. Anything else (`../..`, `/etc/passwd`, a link out of the root) is refused, so that a
model registration can never make a service read an arbitrary file.

A checkpoint is its job's owner's (the principal the gateway named when the job started; see runtime/caller.py): another
principal who names it, to register it as a model or to train it further, finds no checkpoint of that name. Admins, and
everyone on a mesh with auth off, may use every checkpoint; one written before checkpoints had owners is the admins'.

    <root>/<identifier>/
        checkpoint.json      what was trained: job, its owner, base model, kind, epoch, metrics, the training config
        model.gguf           the merged weights, with the base GGUF's tokenizer and chat template (llama.cpp)
        adapter/             the PEFT LoRA adapter (LoRA jobs), e.g. for vLLM's LoRA serving
        model/               the Hugging Face weights (full fine-tuning and DPO)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llama_mesh.runtime.caller import may_see
from llama_mesh.runtime.errors import InvalidArgument, NotFound

MANIFEST = "checkpoint.json"
OWNER_KEY = "owner"  # in the manifest: the principal whose job wrote the checkpoint ('' with auth off)
GGUF_FILE = "model.gguf"
ADAPTER_DIR = "adapter"
HF_MODEL_DIR = "model"


def default_checkpoint_root(data_dir: str) -> Path:
    return Path(data_dir).expanduser() / "post_training" / "checkpoints"


def checkpoint_root(configured: str, data_dir: str) -> Path:
    """The root a service uses: its configured `checkpoint_dir`, or the default under the data dir."""
    return Path(configured).expanduser() if configured else default_checkpoint_root(data_dir)


def inside(root: Path, name: str) -> Path | None:
    """The directory `name` resolves to (relative to `root`, or absolute), when it lies strictly inside `root`."""
    if not name or "\x00" in name:
        return None
    real_root = root.resolve()
    target = (real_root / name).resolve()
    if target == real_root or not target.is_relative_to(real_root):
        return None
    return target


def find_checkpoint(root: Path, name: str, field: str) -> Path:
    """The directory of a complete checkpoint named `name`: INVALID_ARGUMENT for a name outside the root, NOT_FOUND
    for a name inside it that holds no checkpoint."""
    target = inside(root, name)
    if target is None:
        raise InvalidArgument(
            field,
            f"{name!r} is not a post-training checkpoint: checkpoints are named by their identifier, inside the "
            "post-training checkpoint directory",
            reason="NOT_A_CHECKPOINT",
        )
    if not (target / MANIFEST).is_file() or not (target / GGUF_FILE).is_file():
        raise NotFound(
            f"no post-training checkpoint {name!r} (list a job's checkpoints with "
            "`llama-mesh post-training artifacts <job_id>`)",
            reason="CHECKPOINT_NOT_FOUND",
            checkpoint=name,
        )
    return target


def hidden(root: Path, name: str) -> bool:
    """Whether `name` is a checkpoint that this call's caller may not see (another principal's): the caller is then
    answered as for a name that is no checkpoint at all."""
    target = inside(root, name)
    return target is not None and (target / MANIFEST).is_file() and not may_see(owner(target))


def owner(directory: Path) -> str:
    """Whose the checkpoint in `directory` is: its manifest's owner ('' for one without, or unreadable: admins')."""
    try:
        found = read_manifest(directory).get(OWNER_KEY, "")
    except (OSError, ValueError, AttributeError):
        return ""
    return found if isinstance(found, str) else ""


def read_manifest(directory: Path) -> dict[str, Any]:
    return json.loads((directory / MANIFEST).read_text())
