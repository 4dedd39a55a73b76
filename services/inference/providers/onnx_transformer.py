"""A sentence-transformers model's transformer exported to ONNX, once, in the model cache, and run by ONNX Runtime.

The export is of the transformer module alone (token ids in, token embeddings out); tokenizing, prompts, pooling and
normalising are sentence-transformers' (or, for the usual pipelines, onnx_sentence_encoder.py's numpy copy of them),
so an ONNX-backed model encodes exactly as the torch one does, to float rounding (tests/inference/test_embedder.py
compares them). On this project's CPUs ONNX Runtime runs MiniLM's forward pass about 2x faster than torch
(bench/README.md).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from transformers.modeling_outputs import BaseModelOutput

from llama_mesh.conversion_cache import ModelConversionError, cached_build, content_key

# Part of the cache key: bump it when the output of the export changes.
EXPORT_VERSION = 1
ONNX_FILE = "model.onnx"
FLOAT_FILE = "model.float.onnx"  # quantized: the float export, quantized into ONNX_FILE
Quantization = Literal["none", "int8", "int8-block"]
# int8-block: one scale per this many weights along a linear layer's input (ONNX Runtime's MatMulNBits)
INT8_BLOCK = 128
# What the export depends on besides the exporter: the weights and the architecture.
SOURCE_FILES = ("config.json", "model.safetensors", "pytorch_model.bin")
OUTPUT = "token_embeddings"


def ensure_onnx_export(
    transformer: Any,
    model_dir: Path,
    label: str,
    cache_dir: str,
    quantization: Quantization = "none",
) -> Path:
    """The ONNX file of `transformer` (sentence-transformers' first module, loaded from `model_dir`), exporting it
    only when not cached. Blocking (~10 s for MiniLM-L6, then ~0.05 s to hash its weights).

    `quantization` "int8-block": the linear layers' weights in int8 with a scale per block of 128 input weights,
    their inputs quantized per block as they come (ONNX Runtime's MatMulNBits, accuracy level 4): ~1.5x faster on
    CPU, the vectors close to the float ones (cosine ~0.999). "int8": weights per output channel, inputs per tensor
    (ONNX Runtime's dynamic quantization): ~2x faster, the vectors further off (cosine ~0.99). bench/README.md
    measures what each does to retrieval."""
    import onnxruntime

    sources = [model_dir / name for name in SOURCE_FILES if (model_dir / name).is_file()]
    if not any(path.name != "config.json" for path in sources):
        raise ModelConversionError(f"no transformer weights to export in {model_dir}")
    key = content_key(sources, f"v{EXPORT_VERSION}:{quantization}:{torch.__version__}:{onnxruntime.__version__}:")
    suffix = "" if quantization == "none" else f"-{quantization}"
    name = f"{re.sub(r'[^A-Za-z0-9._-]', '_', label)}.onnx{suffix}-{key}"

    def build(work: Path) -> None:
        if quantization == "none":
            _export(transformer, work / ONNX_FILE)
            return
        _export(transformer, work / FLOAT_FILE)
        quantize = _quantize_int8_blocks if quantization == "int8-block" else _quantize_int8
        quantize(work / FLOAT_FILE, work / ONNX_FILE)
        (work / FLOAT_FILE).unlink()

    return cached_build(cache_dir, name, build, _is_complete) / ONNX_FILE


def _quantize_int8(source: Path, output: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    try:
        quantize_dynamic(source, output, per_channel=True, weight_type=QuantType.QInt8)
    except Exception as exc:  # the quantizer raises many kinds for graphs it cannot handle
        raise ModelConversionError(f"cannot quantize the ONNX export to int8: {exc}") from exc


def _quantize_int8_blocks(source: Path, output: Path) -> None:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quantizer_log = logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer")
    level = quantizer_log.level
    try:
        quantizer_log.setLevel(logging.WARNING)  # it logs each layer it quantizes
        # accuracy level 4: int8 inputs, int32 sums (the fast kernels); without it the weights are unpacked to float
        # on every call, ~4x slower than the float model
        quantizer = MatMulNBitsQuantizer(
            onnx.load(source), bits=8, block_size=INT8_BLOCK, is_symmetric=True, accuracy_level=4
        )
        quantizer.process()
        quantizer.model.save_model_to_file(str(output), use_external_data_format=False)
    except Exception as exc:  # the quantizer raises many kinds for graphs it cannot handle
        raise ModelConversionError(f"cannot quantize the ONNX export to int8 blocks: {exc}") from exc
    finally:
        quantizer_log.setLevel(level)


def _is_complete(directory: Path) -> bool:
    return (directory / ONNX_FILE).is_file()


class _TokenEmbeddings(torch.nn.Module):
    def __init__(self, model: torch.nn.Module, input_names: list[str]) -> None:
        super().__init__()
        self.model = model
        self.input_names = input_names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.model(**dict(zip(self.input_names, inputs, strict=True)), return_dict=True).last_hidden_state


def _export(transformer: Any, output: Path) -> None:
    model = transformer.auto_model.eval()
    tokenizer = transformer.tokenizer
    # Two texts of different lengths: batch and sequence sizes above 1, padding and a real attention mask, so that
    # the exporter keeps both dimensions free and the masking in the graph.
    example = tokenizer(["an example sentence to export", "a second one"], padding=True, return_tensors="pt")
    input_names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in example]
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    # the exporter warns about each torchvision operator it cannot register (torchvision is not installed: not needed)
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    try:
        exporter_log.setLevel(logging.ERROR)
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _TokenEmbeddings(model, input_names),
                tuple(example[name] for name in input_names),
                str(output),
                input_names=input_names,
                output_names=[OUTPUT],
                dynamic_shapes=(tuple({0: batch, 1: sequence} for _ in input_names),),  # forward(*inputs): one argument
                external_data=False,
                dynamo=True,
                verbose=False,
            )
    except Exception as exc:  # the exporter raises many kinds for models it cannot trace
        raise ModelConversionError(f"cannot export {type(model).__name__} to ONNX: {exc}") from exc
    finally:
        exporter_log.setLevel(level)


class OnnxTransformer(torch.nn.Module):
    """Stands in for the Hugging Face model inside sentence-transformers' Transformer module: its forward takes the
    tokenizer's tensors and returns the token embeddings, computed by ONNX Runtime. It holds no weights."""

    def __init__(self, onnx_path: Path, config: Any, threads: int | None) -> None:
        super().__init__()
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Threads wait by sleeping, not spinning: a spinning waiter takes a shared core from the thread it waits for
        # (docs/llama-cpp-engine.md measures the same with OpenMP).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # errors only
        self.config = config
        self._session = onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self._inputs = [item.name for item in self._session.get_inputs()]

    def forward(self, **features: Any) -> BaseModelOutput:
        feeds = {name: features[name].cpu().numpy() for name in self._inputs}
        return BaseModelOutput(last_hidden_state=torch.from_numpy(self.token_embeddings(feeds)))

    def token_embeddings(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        """(batch, sequence, hidden) float32 from the tokenizer's arrays (the ones the graph takes; others ignored)."""
        feeds = {name: np.ascontiguousarray(features[name], dtype=np.int64) for name in self._inputs}
        (embeddings,) = self._session.run([OUTPUT], feeds)  # releases the GIL while it runs
        return embeddings
