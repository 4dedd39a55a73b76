"""What a `weight_type` costs in model quality: each re-encoding of SmolLM2's GGUF against the file as shipped (Q4_1).

Text: English prose from bench/text_corpus.py (docstrings of the installed packages), joined and cut into windows of
`--ctx` tokens. Every model evaluates every window (llama.cpp, all logits); per weight type: perplexity on the
windows' second halves (each token sees at least half a window of context), mean KL divergence of its next-token
distribution from the shipped file's, and how often its top token is the shipped file's top token.

    python -m bench.weight_quality [--types Q4_0,F16,Q8_0] [--windows 8] [--ctx 512] [--json FILE]

Speed is measured by llama_decode_ceiling.py and llama_batching.py; docs/llama-cpp-engine.md has both.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np

from bench._common import log, print_table, write_json
from bench.llama_decode_ceiling import model_path
from bench.text_corpus import build_texts


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _windows(tokenize: Any, count: int, ctx: int) -> list[list[int]]:
    tokens: list[int] = []
    for text in build_texts(count * ctx // 8):
        tokens += tokenize(text.encode() + b"\n", add_bos=False)
        if len(tokens) >= count * ctx:
            break
    return [tokens[i * ctx : (i + 1) * ctx] for i in range(count)]


def _window_logprobs(llm: Any, window: list[int]) -> np.ndarray:
    """Log-probabilities of the next token after each position of the second half of the window."""
    llm.reset()
    llm.eval(window)
    logits = np.asarray(llm.scores[: len(window)], dtype=np.float64)
    return _log_softmax(logits[len(window) // 2 - 1 : -1])


def run(types: list[str], windows: int, ctx: int, cache_dir: str) -> list[dict[str, Any]]:
    import llama_cpp

    names = ["Q4_1 (as shipped)", *types]
    models = [
        llama_cpp.Llama(model_path=model_path(t, cache_dir), n_ctx=ctx, n_threads=2, logits_all=True, verbose=False)
        for t in ["", *types]
    ]
    texts = _windows(models[0].tokenize, windows, ctx)
    nll = [0.0] * len(models)
    kl = [0.0] * len(models)
    agree = [0] * len(models)
    counted = 0
    for index, window in enumerate(texts):
        targets = np.asarray(window[len(window) // 2 :])
        reference = _window_logprobs(models[0], window)
        for m, llm in enumerate(models):
            logprobs = reference if m == 0 else _window_logprobs(llm, window)
            nll[m] -= float(logprobs[np.arange(len(targets)), targets].sum())
            kl[m] += float((np.exp(reference) * (reference - logprobs)).sum())
            agree[m] += int((logprobs.argmax(axis=-1) == reference.argmax(axis=-1)).sum())
        counted += len(targets)
        log(f"window {index + 1}/{len(texts)}: perplexity so far " + ", ".join(
            f"{name} {math.exp(nll[m] / counted):.3f}" for m, name in enumerate(names)))  # fmt: skip
    for llm in models:
        llm.close()
    return [
        {
            "weights": name,
            "perplexity": math.exp(nll[m] / counted),
            "perplexity_vs_shipped": math.exp((nll[m] - nll[0]) / counted),
            "kl_from_shipped": kl[m] / counted,
            "top1_agreement": agree[m] / counted,
            "tokens": counted,
        }
        for m, name in enumerate(names)
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--types", default="Q4_0,F16,Q8_0", help="weight types to compare with the shipped Q4_1")
    parser.add_argument("--windows", type=int, default=8)
    parser.add_argument("--ctx", type=int, default=512)
    parser.add_argument("--cache-dir", default="~/.cache/llama-mesh/models", help="where re-encoded files are kept")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    rows = run([t for t in args.types.split(",") if t], args.windows, args.ctx, args.cache_dir)
    print_table(
        f"SmolLM2-135M-Instruct by weight type, {rows[0]['tokens']} tokens of English prose",
        ["weights", "perplexity", "x shipped", "KL from shipped", "top-1 = shipped"],
        [
            [
                r["weights"],
                f"{r['perplexity']:.3f}",
                f"{r['perplexity_vs_shipped']:.4f}",
                f"{r['kl_from_shipped']:.5f}",
                f"{r['top1_agreement']:.3f}",
            ]
            for r in rows
        ],  # fmt: skip
    )
    write_json(args.json, {"rows": rows})


if __name__ == "__main__":
    main()
