"""The mesh's own model cache (the distributions' cache_dir), so tests and meshes share one conversion or export."""

from __future__ import annotations

import os
from pathlib import Path

from llama_mesh.conversion_cache import model_cache_dir as models_under


def model_cache_dir() -> Path:
    return Path(models_under(os.environ.get("LLAMA_MESH_CACHE_DIR", "~/.cache/llama-mesh")))
