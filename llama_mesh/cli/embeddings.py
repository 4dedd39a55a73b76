"""`llama-mesh embeddings`: embed texts; print each vector's dimension and first values, or all of it as JSON."""

from __future__ import annotations

import math

import click

from llama_mesh.cli.output import print_json, stdout
from llama_mesh.cli.state import get_state, json_option

SHOWN_VALUES = 6


def _preview(text: str, width: int = 40) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@click.command(help="Embed one or more TEXTS with an embedding model.")
@click.argument("texts", nargs=-1, required=True)
@click.option("-m", "--model", "model_id", required=True, help="A registered embedding model id.")
@click.option("--dimension", type=click.IntRange(min=1), help="Truncate to this many dimensions (Matryoshka).")
@json_option
def embeddings(texts: tuple[str, ...], model_id: str, dimension: int | None) -> None:
    state = get_state()
    vectors = state.client().inference.embeddings(model_id, list(texts), output_dimension=dimension)
    if state.json:
        print_json([{"text": text, "embedding": vector} for text, vector in zip(texts, vectors, strict=True)])
        return
    for index, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
        head = ", ".join(f"{value:+.4f}" for value in vector[:SHOWN_VALUES])
        more = ", …" if len(vector) > SHOWN_VALUES else ""
        norm = math.sqrt(sum(value * value for value in vector))
        stdout.print(
            f"[{index}] {_preview(text)!r}: dimension {len(vector)}, norm {norm:.3f}, [{head}{more}]", markup=False
        )
