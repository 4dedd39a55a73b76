"""Post-training checkpoints a vLLM provider serves as LoRA adapters, registered at run time.

A LoRA job's checkpoint (llama_mesh/checkpoints.py) holds its PEFT adapter in `adapter/`; its `checkpoint.json` names
the GGUF file the training started from (`base_gguf`) and, for a job that trained an earlier checkpoint further, that
checkpoint (`base_checkpoint`). vLLM adds an adapter to the weights one of its engines serves, so the checkpoint is
served only by the base model entry whose source is that same GGUF file, and only when it adapts that model directly
(an adapter trained on a checkpoint adapts the checkpoint's weights, which no engine serves). Everything is read from
inside the checkpoint root: the checkpoint directory, its adapter directory and every file in it, symlinks followed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from llama_mesh.checkpoints import ADAPTER_DIR, find_checkpoint, inside, read_manifest
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument

FIELD = "model.provider_resource_id"


@dataclass(frozen=True)
class CheckpointAdapter:
    base: str  # the provider's model entry whose engine runs the adapter
    adapter_dir: Path
    rank: int


def checkpoint_adapter(
    provider_id: str, root: Path, name: str, bases: dict[str, Path], lora_bases: dict[str, int]
) -> CheckpointAdapter:
    """The adapter of checkpoint `name` and the base entry it runs on. `bases`: the provider's base model entries by
    name, with the file or directory each is served from; `lora_bases`: those whose engines start with LoRA on, with
    the largest adapter rank they take. INVALID_ARGUMENT / NOT_FOUND as for any checkpoint name; FAILED_PRECONDITION
    when vLLM cannot serve this checkpoint here, saying why and what to do."""
    directory = find_checkpoint(root, name, FIELD)
    manifest = read_manifest(directory)
    adapter_dir = _adapter_dir(root, directory, name)
    if adapter_dir is None:
        raise FailedPrecondition(
            f"checkpoint {name!r} holds full weights (a full fine-tune or DPO job), not a LoRA adapter; vLLM serves "
            "post-training checkpoints as LoRA adapters only: register it with a llama-cpp provider (it serves the "
            "checkpoint's model.gguf), or list the checkpoint's model/ directory as a model of provider "
            f"{provider_id!r} in run.yaml",
            reason="CHECKPOINT_NOT_AN_ADAPTER",
            provider_id=provider_id,
            checkpoint=name,
        )
    trained_from = str(manifest.get("base_model") or "?")
    base = _matching_base(manifest, bases)
    if base is None:
        served = ", ".join(f"{entry} ({path.name})" for entry, path in bases.items()) or "none"
        origin = (
            f"checkpoint {Path(manifest['base_checkpoint']).name!r}"
            if manifest.get("base_checkpoint")
            else f"{Path(str(manifest.get('base_gguf', '?'))).name}"
        )
        raise FailedPrecondition(
            f"checkpoint {name!r} is a LoRA adapter of model {trained_from!r} (trained from {origin}), but provider "
            f"{provider_id!r} serves {served}: an adapter runs only on the base model it was trained from; register "
            "it with a provider that serves that model",
            reason="CHECKPOINT_BASE_MISMATCH",
            provider_id=provider_id,
            checkpoint=name,
            checkpoint_base_model=trained_from,
        )
    if base not in lora_bases:
        raise FailedPrecondition(
            f"provider {provider_id!r} serves {base!r} without LoRA, so it cannot serve checkpoint {name!r} (a LoRA "
            "adapter of it): set the provider's enable_lora to true (LLAMA_MESH_VLLM_LORA=true in the vLLM "
            "distributions) and restart the inference service",
            reason="ENGINE_SETTING_UNSATISFIABLE",
            provider_id=provider_id,
            setting="enable_lora",
        )
    rank = _adapter_rank(adapter_dir, name)
    if rank > lora_bases[base]:
        raise FailedPrecondition(
            f"checkpoint {name!r} is a rank-{rank} LoRA adapter, above provider {provider_id!r}'s max_lora_rank "
            f"{lora_bases[base]}: raise max_lora_rank",
            reason="ENGINE_SETTING_UNSATISFIABLE",
            provider_id=provider_id,
            setting="max_lora_rank",
        )
    return CheckpointAdapter(base=base, adapter_dir=adapter_dir, rank=rank)


def _adapter_dir(root: Path, directory: Path, name: str) -> Path | None:
    """The checkpoint's adapter directory, None when it has none; INVALID_ARGUMENT when it, or a file in it, leads
    out of the checkpoint root."""
    adapter = directory / ADAPTER_DIR
    if not adapter.exists():
        return None
    resolved = inside(root, str(adapter))
    if resolved is None or not resolved.is_dir():
        raise _outside(name)
    if not (resolved / "adapter_config.json").is_file():
        return None
    for path in resolved.rglob("*"):
        if inside(root, str(path)) is None:
            raise _outside(name)
    return resolved


def _outside(name: str) -> InvalidArgument:
    return InvalidArgument(
        FIELD,
        f"checkpoint {name!r} has an adapter that leads out of the checkpoint directory",
        reason="NOT_A_CHECKPOINT",
    )


def _matching_base(manifest: dict, bases: dict[str, Path]) -> str | None:
    if manifest.get("base_checkpoint") or not manifest.get("base_gguf"):
        return None
    trained_from = Path(str(manifest["base_gguf"])).resolve()
    return next((entry for entry, path in bases.items() if path.resolve() == trained_from), None)


def _adapter_rank(adapter_dir: Path, name: str) -> int:
    try:
        config = json.loads((adapter_dir / "adapter_config.json").read_text())
    except (OSError, ValueError) as exc:
        raise FailedPrecondition(
            f"checkpoint {name!r}: its adapter_config.json does not read: {exc}", reason="MODEL_LOAD_FAILED"
        ) from exc
    if config.get("peft_type", "LORA") != "LORA":
        raise FailedPrecondition(
            f"checkpoint {name!r} holds a {config.get('peft_type')} adapter; vLLM serves LoRA adapters only",
            reason="CHECKPOINT_NOT_AN_ADAPTER",
            checkpoint=name,
        )
    return int(config.get("r", 8))
