"""A model that cannot be loaded is FAILED_PRECONDITION naming the model and the file, never the server's directories
(the log has the whole path): a post-training checkpoint whose weights are broken, a configured file that is gone."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from llama_mesh.runtime.config import ProviderConfig
from llama_mesh.runtime.errors import FailedPrecondition
from services.inference.providers import PROVIDER_TYPES


def _llama_cpp(data_dir: Path, **config: Any) -> Any:
    provider = ProviderConfig(
        provider_id="llama-cpp", provider_type="inline::llama-cpp", config={"preload": False, "models": {}, **config}
    )
    return PROVIDER_TYPES["inline::llama-cpp"](provider, SimpleNamespace(data_dir=str(data_dir)))  # type: ignore[arg-type]


async def test_a_checkpoint_with_broken_weights_names_no_server_directory(tmp_path: Path) -> None:
    root = tmp_path / "server-checkpoints"
    broken = root / "jobs" / "broken"
    broken.mkdir(parents=True)
    (broken / "checkpoint.json").write_text("{}")
    (broken / "model.gguf").write_bytes(b"not a GGUF file")
    provider = _llama_cpp(tmp_path, checkpoint_dir=str(root))
    with pytest.raises(FailedPrecondition) as refused:
        await provider.get("jobs/broken")
    assert refused.value.reason == "MODEL_LOAD_FAILED"
    assert "'jobs/broken'" in refused.value.message and "model.gguf" in refused.value.message
    assert str(tmp_path) not in refused.value.message and "server-checkpoints" not in refused.value.message


async def test_a_configured_model_file_that_is_gone_names_no_server_directory(tmp_path: Path) -> None:
    missing = tmp_path / "models-on-the-server" / "gone.gguf"
    provider = _llama_cpp(tmp_path, models={"gone": {"source": str(missing)}})
    with pytest.raises(FailedPrecondition) as refused:
        await provider.get("gone")
    assert "gone.gguf" in refused.value.message
    assert str(tmp_path) not in refused.value.message and "models-on-the-server" not in refused.value.message
