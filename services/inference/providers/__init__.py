"""The inference providers a service hosts, built from the distribution, and the engines they load on demand."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from llama_mesh.checkpoints import GGUF_FILE, checkpoint_root, find_checkpoint, hidden
from llama_mesh.conversion_cache import model_cache_dir
from llama_mesh.model_conversion import ModelConversionError
from llama_mesh.model_sources import ModelSourceError, resolve_model_source
from llama_mesh.runtime.config import ProviderConfig, RunConfig
from llama_mesh.runtime.errors import FailedPrecondition, NotFound, without_paths
from llama_mesh.runtime.hosted_providers import HostedProviders
from services.inference.provider import ChatEngine, Embedder, ModelLoadError, TextEngine
from services.inference.providers.gguf_weights import WeightType, ensure_weight_type

log = logging.getLogger(__name__)
_CHECKPOINT_HINT = " (or a post-training checkpoint: `llama-mesh post-training artifacts <job_id>`)"


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="allow")
    # A path or package:// URI (see llama_mesh.model_sources).
    source: str


class StreamingSettings(BaseModel):
    """Settings every text-generation provider has."""

    model_config = ConfigDict(extra="forbid")
    # Tokens per streamed message once the first one is sent (1: each as it comes; docs/streaming.md).
    stream_interval: int = Field(default=1, ge=1, le=1024)


class LlamaCppModelEntry(ModelEntry):
    # Serve the GGUF's weights re-encoded in this type (once, in <cache_dir>/models; providers/gguf_weights.py), e.g.
    # Q8_0 or Q4_0 for a Q4_1 file (docs/llama-cpp-engine.md, "Weight type"); none: the file as it is.
    weight_type: WeightType | None = None

    @field_validator("weight_type", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value  # `${env.X:}` left empty: the file as it is


class LlamaCppConfig(StreamingSettings):
    models: dict[str, LlamaCppModelEntry]
    n_ctx: int = 4096
    n_threads: int | None = None
    # Keep the last prompt's KV cache and evaluate only what a new prompt adds to a shared prefix.
    prefix_cache: bool = True
    # Requests decoded together (continuous batching); each holds a KV cache of n_ctx tokens (SmolLM2-135M: ~23 KB a
    # token, so 4 x 4096 tokens take ~370 MB). Requests beyond it wait in a queue.
    n_parallel: int = Field(default=4, ge=1, le=64)
    preload: bool = True
    # Post-training checkpoints this provider serves (a model registered with a checkpoint's identifier as its
    # provider_resource_id); empty: <data_dir>/post_training/checkpoints. Nothing outside it is ever loaded.
    checkpoint_dir: str = ""


class VllmConfig(StreamingSettings):
    """vLLM's engine settings (docs/gpu.md has the table). A model entry whose source is a PEFT LoRA adapter directory
    is served on top of its base model (`base_model`: another entry of this provider; the only other entry when
    omitted), whose engine then starts with LoRA enabled. With `enable_lora`, every base model's engine starts with
    LoRA on, and a post-training checkpoint registered at run time is served as a LoRA adapter on the base model it
    was trained from (services/inference/providers/vllm_checkpoints.py)."""

    models: dict[str, ModelEntry]
    max_model_len: int = Field(default=4096, gt=0)
    dtype: str = "auto"
    tensor_parallel_size: int = Field(default=1, ge=1)
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    enforce_eager: bool = False
    enable_prefix_caching: bool = True
    max_num_seqs: int | None = Field(default=None, gt=0)  # None: vLLM's default for the platform
    enable_lora: bool = False
    max_loras: int = Field(default=4, ge=1)
    max_lora_rank: int = Field(default=16, ge=1)
    engine_args: dict[str, Any] = Field(default_factory=dict)
    preload: bool = True
    # Post-training checkpoints served as LoRA adapters, as LlamaCppConfig's checkpoint_dir.
    checkpoint_dir: str = ""


class RemoteOpenAIConfig(StreamingSettings):
    """Models served by an OpenAI-compatible server; each model entry's `source` is the server's model name."""

    base_url: str
    api_key: str | None = None
    models: dict[str, ModelEntry]
    context_length: int = 4096
    timeout_s: float = 600.0
    preload: bool = True


class SentenceTransformersConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    models: dict[str, ModelEntry]
    device: str = "cpu"
    preload: bool = True
    # "onnx": each model's transformer exported once to ONNX (in <cache_dir>/models) and run by ONNX Runtime on the
    # CPU: the same vectors (to float rounding), a short query about 2x faster than torch here (bench/README.md);
    # "torch": sentence-transformers on torch (any device).
    backend: Literal["torch", "onnx"] = "torch"
    # CPU threads for one embedding call (torch: torch.set_num_threads in the thread that encodes; onnx: ONNX Runtime's
    # intra-op threads); None: the library's default (one per core). One keeps a short query's embedding fast when the
    # cores are busy (bench/README.md). `torch_threads` is its older name.
    threads: int | None = Field(None, ge=1, validation_alias=AliasChoices("threads", "torch_threads"))
    # backend onnx only, opt-in because the vectors move (bench/README.md measures both on real queries):
    # "int8-block": the linear layers' weights in int8 blocks of 128: a short query ~1.5x faster, cosine ~0.999 to
    # the float vectors, ~96% of a query's top 10 as the float model's; "int8": ONNX Runtime's dynamic quantization:
    # ~2x faster, cosine ~0.99, ~87% of the top 10.
    quantization: Literal["none", "int8", "int8-block"] = "none"

    @model_validator(mode="after")
    def _onnx_runs_on_cpu(self) -> SentenceTransformersConfig:
        if self.backend == "onnx" and self.device != "cpu":
            raise ValueError("backend onnx runs on the CPU; use backend torch for device " + repr(self.device))
        if self.quantization != "none" and self.backend != "onnx":
            raise ValueError("quantization applies to backend onnx")
        return self


@dataclass
class LoadedModel:
    provider_id: str
    name: str
    engine: TextEngine | ChatEngine | Embedder


class InferenceProvider:
    """One provider instance: the models it may serve, loaded once each, on first use or at start."""

    def __init__(
        self,
        provider_id: str,
        models: dict[str, ModelEntry],
        preload: bool,
        factory: Callable[[str, ModelEntry], TextEngine | ChatEngine | Embedder],
        serves_embeddings: bool = False,
        checkpoints: Callable[[str], ModelEntry] | None = None,
        stream_interval: int = 1,
        checkpoint_root: Path | None = None,
    ) -> None:
        self.provider_id = provider_id
        self.stream_interval = stream_interval
        self.serves_embeddings = serves_embeddings
        self.models = models
        self.preload = preload
        self._factory = factory
        self._checkpoints = checkpoints
        self._checkpoint_root = checkpoint_root  # where `checkpoints` finds them: whose each one is
        self._configured = frozenset(models)
        self._loaded: dict[str, TextEngine | ChatEngine | Embedder] = {}
        self._locks: dict[str, asyncio.Lock] = {name: asyncio.Lock() for name in models}

    def is_loaded(self, name: str) -> bool:
        return name in self._loaded

    def loaded_engines(self) -> dict[str, TextEngine | ChatEngine | Embedder]:
        """A snapshot of the loaded models' engines, by name (safe to take from another thread)."""
        return dict(self._loaded)

    def require_registrable(self, name: str) -> None:
        """require_model, for a model being registered: a post-training checkpoint only by its job's owner (or an
        admin), even while another registration serves it; to anyone else it is NOT_FOUND, as a name served by
        nothing."""
        if name not in self._configured and self._checkpoint_root is not None and hidden(self._checkpoint_root, name):
            raise self._not_served(name, _CHECKPOINT_HINT)
        self.require_model(name)

    def require_model(self, name: str) -> None:
        """NOT_FOUND unless this provider's config lists the model or it names a checkpoint this provider serves."""
        checkpoints = ""
        if name not in self.models and self._checkpoints is not None:
            try:
                self.models[name] = self._checkpoints(name)
                self._locks[name] = asyncio.Lock()
            except NotFound:
                checkpoints = _CHECKPOINT_HINT
        if name not in self.models:
            raise self._not_served(name, checkpoints)

    def _not_served(self, name: str, checkpoints: str) -> NotFound:
        """The provider serves no model `name`; the names it lists are its configured ones (never a checkpoint's)."""
        return NotFound(
            f"provider {self.provider_id!r} has no model {name!r}; it serves: {', '.join(sorted(self._configured))}"
            f"{checkpoints}",
            reason="PROVIDER_MODEL_NOT_FOUND",
            provider_id=self.provider_id,
            provider_resource_id=name,
        )

    async def get(self, name: str) -> TextEngine | ChatEngine | Embedder:
        if name in self._loaded:
            return self._loaded[name]
        self.require_model(name)
        async with self._locks[name]:
            if name not in self._loaded:
                try:
                    # building may convert a model (seconds to minutes): never on the event loop
                    engine = await asyncio.to_thread(self._factory, name, self.models[name])
                    await engine.start()
                except (ModelLoadError, ModelSourceError, ModelConversionError) as exc:
                    log.warning("provider %s cannot load model %s: %s", self.provider_id, name, exc)
                    why = without_paths(str(exc))  # the log has the files; the caller gets their names
                    setting = getattr(exc, "setting", None)
                    if setting is not None:  # the model does not fit what this setting gives it
                        raise FailedPrecondition(
                            f"provider {self.provider_id!r} cannot serve model {name!r} with its {setting} "
                            f"setting: {why}",
                            reason="ENGINE_SETTING_UNSATISFIABLE",
                            provider_id=self.provider_id,
                            setting=setting,
                        ) from exc
                    raise FailedPrecondition(
                        f"provider {self.provider_id!r} cannot load model {name!r}: {why}",
                        reason="MODEL_LOAD_FAILED",
                        provider_id=self.provider_id,
                    ) from exc
                self._loaded[name] = engine
                log.info("provider %s loaded model %s", self.provider_id, name)
        return self._loaded[name]

    async def release(self, name: str) -> None:
        """Stop serving a post-training checkpoint (its last registration is gone): its engine is closed and its
        requests still running end with finish_reason abort. Models the configuration lists stay."""
        if name in self._configured or name not in self.models:
            return
        async with self._locks[name]:
            engine = self._loaded.pop(name, None)
            self.models.pop(name, None)
        if engine is not None:
            await engine.close()
            log.info("provider %s released model %s", self.provider_id, name)

    async def close(self) -> None:
        for engine in self._loaded.values():
            await engine.close()
        self._loaded.clear()


def _llama_cpp(provider: ProviderConfig, run: RunConfig) -> InferenceProvider:
    settings = LlamaCppConfig.model_validate(provider.config)

    def build(name: str, entry: ModelEntry) -> TextEngine:
        from services.inference.providers.llama_cpp import LlamaCppEngine

        path = str(resolve_model_source(entry.source))
        weight_type = getattr(entry, "weight_type", None)  # checkpoints are served as they are
        if weight_type is not None:
            path = ensure_weight_type(path, weight_type, model_cache_dir(run.cache_dir))
        return LlamaCppEngine(
            path,
            n_ctx=settings.n_ctx,
            n_threads=settings.n_threads,
            prefix_cache=settings.prefix_cache,
            n_parallel=settings.n_parallel,
        )

    root = checkpoint_root(settings.checkpoint_dir, run.data_dir)

    def checkpoint(name: str) -> ModelEntry:
        return ModelEntry(source=str(find_checkpoint(root, name, "model.provider_resource_id") / GGUF_FILE))

    return InferenceProvider(
        provider.provider_id,
        settings.models,
        settings.preload,
        build,
        checkpoints=checkpoint,
        stream_interval=settings.stream_interval,
        checkpoint_root=root,
    )


def _vllm(provider: ProviderConfig, run: RunConfig) -> InferenceProvider:
    settings = VllmConfig.model_validate(provider.config)
    adapters = _lora_adapters(provider.provider_id, settings.models)  # checkpoints registered at run time join it
    lora_ids: dict[str, int] = {}  # vLLM wants a positive id per adapter; an adapter keeps its id while the engine runs

    def lora_id(name: str) -> int:
        return lora_ids.setdefault(name, len(lora_ids) + 1)

    def lora_on(name: str) -> bool:
        return settings.enable_lora or any(base == name for base, _ in adapters.values())

    def build(name: str, entry: ModelEntry) -> TextEngine:
        from services.inference.providers.vllm import LoraSettings, VllmAdapterEngine, VllmEngine

        if name in adapters:
            base, adapter_dir = adapters[name]
            return VllmAdapterEngine(name, str(adapter_dir), lora_id(name), lambda: served.get(base))
        model = entry.source
        if not model.startswith("hf://"):
            model = str(_vllm_model_dir(resolve_model_source(model), run))
        else:
            model = model.removeprefix("hf://")
        return VllmEngine(
            model=model,
            max_model_len=settings.max_model_len,
            dtype=settings.dtype,
            tensor_parallel_size=settings.tensor_parallel_size,
            gpu_memory_utilization=settings.gpu_memory_utilization,
            enforce_eager=settings.enforce_eager,
            enable_prefix_caching=settings.enable_prefix_caching,
            max_num_seqs=settings.max_num_seqs,
            lora=LoraSettings(settings.max_loras, settings.max_lora_rank) if lora_on(name) else None,
            extra_engine_args=settings.engine_args,
        )

    root = checkpoint_root(settings.checkpoint_dir, run.data_dir)

    def checkpoint(name: str) -> ModelEntry:
        from services.inference.providers.vllm_checkpoints import checkpoint_adapter

        bases = _base_model_paths(settings.models, adapters)
        lora_bases = {base: settings.max_lora_rank for base in bases if lora_on(base)}
        found = checkpoint_adapter(provider.provider_id, root, name, bases, lora_bases)
        adapters[name] = (found.base, found.adapter_dir)
        return ModelEntry.model_validate({"source": str(found.adapter_dir), "base_model": found.base})

    served = InferenceProvider(
        provider.provider_id,
        settings.models,
        settings.preload,
        build,
        checkpoints=checkpoint,
        stream_interval=settings.stream_interval,
        checkpoint_root=root,
    )
    return served


def _base_model_paths(models: dict[str, ModelEntry], adapters: dict[str, tuple[str, Path]]) -> dict[str, Path]:
    """The provider's base model entries (not adapters) that are served from a local file or directory."""
    paths = {}
    for name, entry in models.items():
        if name in adapters or entry.source.startswith("hf://"):
            continue
        try:
            paths[name] = resolve_model_source(entry.source)
        except ModelSourceError:
            continue  # reported when the model loads
    return paths


def _lora_adapters(provider_id: str, models: dict[str, ModelEntry]) -> dict[str, tuple[str, Path]]:
    """The entries that are PEFT LoRA adapter directories: name -> (base model entry, adapter directory)."""
    from services.inference.providers.vllm import is_lora_adapter

    paths: dict[str, Path] = {}
    for name, entry in models.items():
        if entry.source.startswith("hf://"):
            continue
        try:
            path = resolve_model_source(entry.source)
        except ModelSourceError:
            continue  # reported when the model loads
        if path.is_dir() and is_lora_adapter(str(path)):
            paths[name] = path
    bases = [name for name in models if name not in paths]
    adapters: dict[str, tuple[str, Path]] = {}
    for name, path in paths.items():
        base = (models[name].model_extra or {}).get("base_model") or (bases[0] if len(bases) == 1 else None)
        if base not in bases:
            raise FailedPrecondition(
                f"provider {provider_id!r}: model {name!r} is a LoRA adapter; set its base_model to the model entry "
                f"it adapts (one of: {', '.join(bases) or 'none configured'})",
                reason="LORA_BASE_MODEL_MISSING",
                provider_id=provider_id,
                setting="base_model",
            )
        adapters[name] = (base, path)
    return adapters


def _vllm_model_dir(path: Path, run: RunConfig) -> Path:
    """vLLM loads HF model directories; a GGUF file is converted once into the cache (vLLM's GGUF path is CUDA-only)."""
    if path.is_dir():
        return path
    from llama_mesh.model_conversion import ensure_hf_model_from_gguf

    return Path(ensure_hf_model_from_gguf(str(path), model_cache_dir(run.cache_dir)))


def _remote_openai(provider: ProviderConfig, run: RunConfig) -> InferenceProvider:
    settings = RemoteOpenAIConfig.model_validate(provider.config)

    def build(name: str, entry: ModelEntry) -> ChatEngine:
        from services.inference.providers.remote_openai import RemoteOpenAIEngine

        return RemoteOpenAIEngine(
            settings.base_url,
            entry.source,
            api_key=settings.api_key,
            context_length=settings.context_length,
            timeout_s=settings.timeout_s,
        )

    return InferenceProvider(
        provider.provider_id, settings.models, settings.preload, build, stream_interval=settings.stream_interval
    )


def _sentence_transformers(provider: ProviderConfig, run: RunConfig) -> InferenceProvider:
    settings = SentenceTransformersConfig.model_validate(provider.config)

    def build(name: str, entry: ModelEntry) -> Embedder:
        from services.inference.providers.sentence_transformers import SentenceTransformersEmbedder

        return SentenceTransformersEmbedder(
            str(resolve_model_source(entry.source)),
            device=settings.device,
            threads=settings.threads,
            backend=settings.backend,
            name=name,
            cache_dir=model_cache_dir(run.cache_dir),
            quantization=settings.quantization,
        )

    return InferenceProvider(provider.provider_id, settings.models, settings.preload, build, serves_embeddings=True)


PROVIDER_TYPES: dict[str, Callable[[ProviderConfig, RunConfig], InferenceProvider]] = {
    "inline::llama-cpp": _llama_cpp,
    "inline::vllm": _vllm,
    "inline::sentence-transformers": _sentence_transformers,
    "remote::openai": _remote_openai,
}


class ProviderSet(HostedProviders[InferenceProvider]):
    """All providers of one inference service."""

    api = "inference"
    factories = PROVIDER_TYPES

    def find_model(self, name: str) -> tuple[str, str]:
        """(provider_id, name) for a call made directly to the service, with no resource from the gateway."""
        for provider in self:
            if name in provider.models:
                return provider.provider_id, name
        raise NotFound(
            f"model {name!r} is not served here; call through the gateway with a registered model id",
            reason="RESOURCE_NOT_FOUND",
            kind="model",
            identifier=name,
        )

    async def preload(self) -> None:
        for provider in self:
            if provider.preload:
                for name in provider.models:
                    await provider.get(name)

    async def close(self) -> None:
        for provider in self:
            await provider.close()
