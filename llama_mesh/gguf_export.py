"""Write trained Hugging Face weights back as a GGUF file that llama.cpp serves: the way back of model_conversion.py.

The new file copies every metadata key of the base GGUF the model was converted from (architecture, hyperparameters,
tokenizer, chat template) and replaces its tensors with the trained weights: F16 for matrices, F32 for vectors (norms).
Hugging Face names map to GGUF names with gguf's own tensor name map. llama.cpp stores the query and key projections of
the llama architecture with their rows permuted for its rotary embedding (transformers undoes this when it reads a
GGUF), so the export permutes them again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

SUPPORTED_ARCHITECTURES = ("llama",)
_NOT_COPIED = ("general.architecture", "general.file_type")


class GGUFExportError(Exception):
    pass


def _permute(weights: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's row order for a q or k projection with `n_head` heads (the inverse of transformers' reading)."""
    return (
        weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def export_gguf(state_dict: Mapping[str, Any], base_gguf: str | Path, output: str | Path) -> None:
    """Write `state_dict` (a causal LM's HF weights, torch tensors) as a GGUF at `output`, with `base_gguf`'s metadata.

    Written to a temporary name beside `output` and renamed at the end: `output` exists only when complete."""
    import gguf

    reader = gguf.GGUFReader(str(base_gguf))
    arch = reader.fields["general.architecture"].contents()
    if arch not in SUPPORTED_ARCHITECTURES:
        raise GGUFExportError(f"exporting the {arch!r} architecture to GGUF is not supported")
    output = Path(output)
    partial = output.with_name(f".{output.name}.partial")
    writer = gguf.GGUFWriter(str(partial), arch)
    try:
        for field in reader.fields.values():
            if field.name.startswith("GGUF.") or field.name in _NOT_COPIED:
                continue
            value_type = field.types[0]
            sub_type = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
            writer.add_key_value(field.name, field.contents(), value_type, sub_type=sub_type)
        writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
        _add_tensors(writer, reader, arch, state_dict)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    except BaseException:
        writer.close()
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, output)


def _add_tensors(writer: Any, reader: Any, arch: str, state_dict: Mapping[str, Any]) -> None:
    import gguf
    import torch

    n_head = int(reader.fields[f"{arch}.attention.head_count"].contents())
    kv_field = reader.fields.get(f"{arch}.attention.head_count_kv")
    n_head_kv = int(kv_field.contents()) if kv_field is not None else n_head
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, int(reader.fields[f"{arch}.block_count"].contents()))
    base_tensors = {tensor.name for tensor in reader.tensors}
    embeddings = state_dict.get("model.embed_tokens.weight")
    written: set[str] = set()
    for hf_name, tensor in state_dict.items():
        tied = hf_name == "lm_head.weight" and embeddings is not None and torch.equal(tensor, embeddings)
        if tied and "output.weight" not in base_tensors:
            continue  # tied to the token embeddings, as in the base model
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise GGUFExportError(f"no GGUF name for tensor {hf_name!r}")
        data = tensor.detach().to(torch.float32).cpu().numpy()
        if name.endswith("attn_q.weight"):
            data = _permute(data, n_head)
        elif name.endswith("attn_k.weight"):
            data = _permute(data, n_head_kv)
        writer.add_tensor(name, data.astype(np.float16 if data.ndim > 1 else np.float32))
        written.add(name)
    missing = base_tensors - written - {"output.weight"}
    if missing:
        raise GGUFExportError(f"the trained weights lack tensors of the base model: {sorted(missing)[:5]}")
