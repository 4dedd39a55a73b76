"""The mesh's own model cache (the distributions' cache_dir), so tests and meshes share one conversion or export."""

from __future__ import annotations

import os
from pathlib import Path


def model_cache_dir() -> Path:
    return Path(os.environ.get("LLAMA_MESH_CACHE_DIR", "~/.cache/llama-mesh")).expanduser() / "models"
