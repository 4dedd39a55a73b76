"""A GGUF model's weights re-encoded in another GGUF type, once, in the model cache (llama.cpp's own quantizer).

The small models this project ships come in one type (SmolLM2-135M as Q4_1), and the type decides which of
llama.cpp's CPU kernels run, alone and batched (`python -m bench.llama_decode_ceiling --weight-type Q8_0` measures it;
docs/llama-cpp-engine.md has this machine's numbers). Re-encoding Q4_1 as Q8_0 keeps the model's values (Q8_0 holds
each 4-bit value of a block to within a small fraction of Q4_1's own step); re-encoding into a type with fewer bits
loses precision, so the operator chooses.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Literal

from llama_mesh.conversion_cache import ModelConversionError, cached_build, content_key

# Part of the cache key: bump it when the output of the re-encoding changes.
REENCODE_VERSION = 1
GGUF_FILE = "model.gguf"
WeightType = Literal["F32", "F16", "BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_0", "Q4_K_M", "Q4_0"]


def ensure_weight_type(gguf_path: str, weight_type: WeightType, cache_dir: str) -> str:
    """The path of `gguf_path` re-encoded as `weight_type`, re-encoding only when not cached. Blocking (~2 s for a
    135M-parameter model, then ~0.1 s to hash the file): call it from a worker thread."""
    source = Path(gguf_path).expanduser().resolve()
    if not source.is_file():
        raise ModelConversionError(f"GGUF file not found: {source}")
    import llama_cpp

    ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{weight_type}", None)
    if ftype is None:  # the Literal above lists only types llama.cpp has had for years; an old build may lack one
        raise ModelConversionError(f"this llama.cpp build cannot write GGUF type {weight_type}")
    key = content_key([source], f"v{REENCODE_VERSION}:{weight_type}:{llama_cpp.__version__}:")
    name = f"{source.stem}.{weight_type}-{key}"
    target = cached_build(cache_dir, name, lambda work: _reencode(source, work / GGUF_FILE, ftype), _is_complete)
    return str(target / GGUF_FILE)


def _is_complete(directory: Path) -> bool:
    return (directory / GGUF_FILE).is_file()


def _reencode(source: Path, output: Path, ftype: int) -> None:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.allow_requantize = True  # the source is quantized already
    params.nthread = min(os.cpu_count() or 1, 4)
    status = llama_cpp.llama_model_quantize(str(source).encode(), str(output).encode(), ctypes.byref(params))
    if status != 0 or not output.is_file():
        raise ModelConversionError(f"llama.cpp could not re-encode {source} (status {status})")
